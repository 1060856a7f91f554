/**
 * @huajia/tinymce-image-generator: generate images with a self-hosted Huajia service and
 * insert them into TinyMCE as figures with alt text and a caption.
 */
export { COMMAND, HuajiaPlugin, PLUGIN_NAME, insertFigures, registerHuajiaPlugin } from './plugin.js';
export { PanelDialog } from './paneldialog.js';
export { MESSAGES, label, panelLanguage } from './labels.js';
export { figuresHtml, imageHtml } from './figures.js';
