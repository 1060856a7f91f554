/**
 * @huajia/ckeditor5-image-generator: generate images with a self-hosted Huajia service
 * and insert them into CKEditor 5 as image figures; edit an article's images in place.
 */
export { HuajiaImageGenerator } from './huajiaimagegenerator.js';
export { HuajiaEditImageCommand } from './editimagecommand.js';
export { PanelDialog } from './paneldialog.js';
export { MESSAGES, label, panelLanguage } from './labels.js';
