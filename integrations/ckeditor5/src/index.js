/**
 * @huajia/ckeditor5-image-generator: generate images with a self-hosted Huajia service
 * and insert them into CKEditor 5 as image figures.
 */
export { HuajiaImageGenerator } from './huajiaimagegenerator.js';
export { PanelDialog } from './paneldialog.js';
