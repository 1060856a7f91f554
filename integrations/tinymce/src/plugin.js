import { figuresHtml } from './figures.js';
import { MESSAGES, label, panelLanguage } from './labels.js';
import { PanelDialog } from './paneldialog.js';

export const PLUGIN_NAME = 'huajia';
export const COMMAND = 'mceHuajiaGenerateImage';

const ICON = '<svg width="24" height="24" viewBox="0 0 20 20"><path fill-rule="nonzero" d="M3 3h14a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1Zm1 2v8.6l3.3-3.3a1 1 0 0 1 1.4 0l2.3 2.3 1.3-1.3a1 1 0 0 1 1.4 0L16 13.6V5H4Zm9.5 1.2.6 1.4 1.4.6-1.4.6-.6 1.4-.6-1.4-1.4-.6 1.4-.6.6-1.4Z"/></svg>';

const OPTIONS = ['huajia_endpoint', 'huajia_api_key', 'huajia_language', 'huajia_panel_url'];

/** Add the plugin to TinyMCE's PluginManager under `huajia` (before tinymce.init). */
export function registerHuajiaPlugin(tinymce = globalThis.tinymce) {
  if (!tinymce?.PluginManager) throw new Error('Huajia: TinyMCE is not loaded; pass the tinymce object');
  tinymce.PluginManager.add(PLUGIN_NAME, HuajiaPlugin);
}

/** Insert the figures of a `huajia-insert` detail at the cursor: one undo step for them all. */
export function insertFigures(editor, detail) {
  const html = figuresHtml(detail);
  if (!html) return;
  editor.undoManager.transact(() => editor.insertContent(html));
}

/**
 * The plugin: a `huajia` toolbar button and menu item, and the `mceHuajiaGenerateImage`
 * command, which open the Huajia panel (served by the endpoint itself, so it always matches
 * the API it talks to) and insert the chosen images as figures with alt text and caption.
 */
export function HuajiaPlugin(editor) {
  for (const name of OPTIONS) editor.options.register(name, { processor: 'string', default: '' });
  const language = () => editor.options.get('huajia_language') || editor.options.get('language');
  const text = (message) => label(message, language(), (source) => editor.translate(source));
  let dialog = null;

  const open = () => {
    dialog ??= new PanelDialog({
      endpoint: editor.options.get('huajia_endpoint') || globalThis.location.origin,
      apiKey: editor.options.get('huajia_api_key'),
      language: panelLanguage(language()),
      label: text(MESSAGES.DIALOG),
      panelUrl: editor.options.get('huajia_panel_url'),
      onInsert: (detail) => insertFigures(editor, detail),
      onClose: () => editor.focus(),
    });
    return dialog.open();
  };

  editor.addCommand(COMMAND, () => { open(); });
  editor.ui.registry.addIcon('huajia-image', ICON);
  const item = { icon: 'huajia-image', text: text(MESSAGES.BUTTON), onAction: () => editor.execCommand(COMMAND) };
  editor.ui.registry.addButton(PLUGIN_NAME, { ...item, tooltip: text(MESSAGES.TOOLTIP) });
  editor.ui.registry.addMenuItem(PLUGIN_NAME, item);
  editor.on('remove', () => dialog?.destroy());
}
