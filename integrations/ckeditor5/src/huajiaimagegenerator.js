import { ButtonView, ImageBlockEditing, ImageUtils, Plugin } from 'ckeditor5';

import { HuajiaEditImageCommand, editSource, replaceImage } from './editimagecommand.js';
import { IMAGE_ID, registerImageIdConversion } from './imageid.js';
import { MESSAGES, label, panelLanguage } from './labels.js';
import { PanelDialog } from './paneldialog.js';


const EDIT_ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20"><path d="M3 4a1 1 0 0 1 1-1h8v2H5v10h10V9h2v7a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V4Zm3 9 2.5-3.5 1.8 2.3 1.2-1.3L14 13H6Zm9.6-10.9 2.3 2.3-5.6 5.6H9V7.7l5.6-5.6Z"/></svg>';

const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20"><path d="M3 3h14a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1Zm1 2v8.6l3.3-3.3a1 1 0 0 1 1.4 0l2.3 2.3 1.3-1.3a1 1 0 0 1 1.4 0L16 13.6V5H4Zm9.5 1.2.6 1.4 1.4.6-1.4.6-.6 1.4-.6-1.4-1.4-.6 1.4-.6.6-1.4Z"/></svg>';

export { panelLanguage };

/**
 * Adds the `huajiaGenerateImage` toolbar button. It opens the Huajia panel (served by the
 * Huajia endpoint itself, so the panel always matches the API it talks to) and inserts the
 * chosen images as `imageBlock` figures with alt text and an optional caption; each keeps its
 * Huajia id (`data-huajia-image-id`).
 *
 * With the Image plugin loaded it also adds `huajiaEditImage` (for `config.image.toolbar`):
 * "Edit with Huajia" opens the panel on the selected image and replaces it in place.
 *
 * It requires the block image's editing part (schema, conversion, ImageUtils), so an editor
 * without the Image plugin still gets figures; add Image, ImageCaption and ImageToolbar for the
 * image toolbar and captions. Labels follow the editor's locale (see labels.js).
 *
 * Configuration: `config.huajia = { endpoint, apiKey, language, panelUrl }`.
 */
export class HuajiaImageGenerator extends Plugin {
  static get pluginName() {
    return 'HuajiaImageGenerator';
  }

  static get requires() {
    return [ImageBlockEditing, ImageUtils];
  }

  static get isOfficialPlugin() {
    return false;
  }

  init() {
    const editor = this.editor;
    editor.config.define('huajia', { endpoint: '', apiKey: '', language: '', panelUrl: '' });
    this._dialog = null;
    this._target = null;
    editor.ui.componentFactory.add('huajiaGenerateImage', (locale) => this._createButton(locale));
    editor.commands.add('huajiaEditImage', new HuajiaEditImageCommand(editor, (element) => this.edit(element)));
    editor.ui.componentFactory.add('huajiaEditImage', (locale) => this._createEditButton(locale));
  }

  /** The image plugins have registered their schema by now. */
  afterInit() {
    registerImageIdConversion(this.editor);
  }

  destroy() {
    this._dialog?.destroy();
    super.destroy();
  }

  /** Open the panel to generate (loading it on first use). */
  async open() {
    this._target = null;
    await this._ensureDialog().open();
  }

  /** Open the panel on the model image `element`; the image picked there replaces it. */
  async edit(element) {
    this._target = element;
    await this._ensureDialog().open({ edit: editSource(element) });
  }

  /** Put the picked image in place of the one being edited (or insert it if that one is gone). */
  replaceTarget({ image, alt }) {
    const element = this._target;
    this._target = null;
    if (!element?.isAttached()) {
      this.insertImages({ images: [{ ...image, alt }], caption: '' });
      return;
    }
    replaceImage(this.editor, element, image, alt);
  }

  /** Insert `images` ([{url, width, height, alt}]) as block images after the selection. */
  insertImages({ images, caption }) {
    const model = this.editor.model;
    model.change((writer) => {
      for (const image of images) {
        const attributes = { src: image.url, alt: image.alt || '' };
        if (image.id && model.schema.checkAttribute('imageBlock', IMAGE_ID)) attributes[IMAGE_ID] = image.id;
        if (image.width && image.height) Object.assign(attributes, { width: String(image.width), height: String(image.height) });
        const element = writer.createElement('imageBlock', attributes);
        if (caption && model.schema.checkChild(element, 'caption')) {
          const captionElement = writer.createElement('caption');
          writer.insertText(caption, captionElement);
          writer.append(captionElement, element);
        }
        model.insertObject(element, null, null, { setSelection: 'after', findOptimalPosition: 'auto' });
      }
    });
  }

  _ensureDialog() {
    if (!this._dialog) {
      const config = this.editor.config.get('huajia');
      const language = panelLanguage(config.language || this.editor.locale.uiLanguage);
      this._dialog = new PanelDialog({
        endpoint: config.endpoint || globalThis.location.origin,
        apiKey: config.apiKey,
        language,
        labels: {
          generate: label(this.editor.locale, MESSAGES.GENERATE, config.language),
          edit: label(this.editor.locale, MESSAGES.EDIT, config.language),
        },
        panelUrl: config.panelUrl,
        onInsert: (detail) => this.insertImages(detail),
        onReplace: (detail) => this.replaceTarget(detail),
        onClose: () => this.editor.editing.view.focus(),
      });
    }
    return this._dialog;
  }

  _createEditButton(locale) {
    const command = this.editor.commands.get('huajiaEditImage');
    const button = new ButtonView(locale);
    const config = this.editor.config.get('huajia');
    button.set({
      label: label(locale, MESSAGES.EDIT, config.language), icon: EDIT_ICON, tooltip: true, withText: true,
    });
    button.bind('isEnabled').to(command, 'isEnabled');
    this.listenTo(button, 'execute', () => command.execute());
    return button;
  }

  _createButton(locale) {
    const editor = this.editor;
    const button = new ButtonView(locale);
    const config = editor.config.get('huajia');
    button.set({
      label: label(locale, MESSAGES.GENERATE, config.language),
      icon: ICON,
      tooltip: true,
      withText: true,
    });
    const insertImage = editor.commands.get('insertImage');
    if (insertImage) button.bind('isEnabled').to(insertImage, 'isEnabled');
    this.listenTo(button, 'execute', () => this.open());
    return button;
  }
}
