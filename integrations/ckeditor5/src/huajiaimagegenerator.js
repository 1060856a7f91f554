import { ButtonView, Plugin } from 'ckeditor5';

import { PanelDialog } from './paneldialog.js';

const LABELS = { 'zh-CN': 'AI 生成图片', en: 'Generate image' };

const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 20"><path d="M3 3h14a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1Zm1 2v8.6l3.3-3.3a1 1 0 0 1 1.4 0l2.3 2.3 1.3-1.3a1 1 0 0 1 1.4 0L16 13.6V5H4Zm9.5 1.2.6 1.4 1.4.6-1.4.6-.6 1.4-.6-1.4-1.4-.6 1.4-.6.6-1.4Z"/></svg>';

/** The two languages the panel speaks; anything else falls back to English. */
export function panelLanguage(tag) {
  return String(tag || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

/**
 * Adds the `huajiaGenerateImage` toolbar button. It opens the Huajia panel (served by the
 * Huajia endpoint itself, so the panel always matches the API it talks to) and inserts the
 * chosen images as `imageBlock` figures with alt text and an optional caption.
 *
 * Configuration: `config.huajia = { endpoint, apiKey, language, panelUrl }`.
 */
export class HuajiaImageGenerator extends Plugin {
  static get pluginName() {
    return 'HuajiaImageGenerator';
  }

  static get isOfficialPlugin() {
    return false;
  }

  init() {
    const editor = this.editor;
    editor.config.define('huajia', { endpoint: '', apiKey: '', language: '', panelUrl: '' });
    this._dialog = null;
    editor.ui.componentFactory.add('huajiaGenerateImage', (locale) => this._createButton(locale));
  }

  destroy() {
    this._dialog?.destroy();
    super.destroy();
  }

  /** Open the panel (loading it on first use). */
  async open() {
    if (!this._dialog) {
      const config = this.editor.config.get('huajia');
      this._dialog = new PanelDialog({
        endpoint: config.endpoint || globalThis.location.origin,
        apiKey: config.apiKey,
        language: panelLanguage(config.language || this.editor.locale.uiLanguage),
        panelUrl: config.panelUrl,
        onInsert: (detail) => this.insertImages(detail),
        onClose: () => this.editor.editing.view.focus(),
      });
    }
    await this._dialog.open();
  }

  /** Insert `images` ([{url, width, height, alt}]) as block images after the selection. */
  insertImages({ images, caption }) {
    const model = this.editor.model;
    model.change((writer) => {
      for (const image of images) {
        const attributes = { src: image.url, alt: image.alt || '' };
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

  _createButton(locale) {
    const editor = this.editor;
    const button = new ButtonView(locale);
    const config = editor.config.get('huajia');
    button.set({
      label: LABELS[panelLanguage(config.language || locale.uiLanguage)],
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
