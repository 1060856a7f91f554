// The plugin's interface texts in the editor's language: a translation the integrator gives
// TinyMCE (tinymce.addI18n) wins; otherwise the plugin's own Chinese for a zh* language, else
// English. The plugin never registers a language itself, so TinyMCE still loads its own packs.

export const MESSAGES = {
  BUTTON: 'AI image',
  TOOLTIP: 'Generate an image with Huajia',
  DIALOG: 'Generate image',
};

const CHINESE = {
  [MESSAGES.BUTTON]: 'AI 图片',
  [MESSAGES.TOOLTIP]: '用画架 AI 生成图片',
  [MESSAGES.DIALOG]: 'AI 生成图片',
};

/** The two languages the panel speaks ('zh_CN', 'zh-Hans' -> 'zh-CN'); others -> 'en'. */
export function panelLanguage(tag) {
  return String(tag || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

/**
 * `message` (one of MESSAGES) for an editor whose language is `language`; `translate` is the
 * editor's own (editor.translate), which answers the message itself when it has no translation.
 */
export function label(message, language, translate = (text) => text) {
  const translated = translate(message);
  if (translated && translated !== message) return translated;
  return panelLanguage(language) === 'zh-CN' ? CHINESE[message] || message : message;
}
