// The plugin's interface texts through the editor's locale: a translation the integrator gives
// CKEditor (`config.translations`) wins; otherwise the plugin's own Chinese, else English.

export const MESSAGES = {
  GENERATE: 'Generate image',
  EDIT: 'Edit with Huajia',
};

const CHINESE = {
  [MESSAGES.GENERATE]: 'AI 生成图片',
  [MESSAGES.EDIT]: '用画架编辑',
};

/** The two languages the panel speaks; anything else falls back to English. */
export function panelLanguage(tag) {
  return String(tag || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

/**
 * `message` (one of MESSAGES) in the editor's interface language: `locale` is the editor's
 * (or a view's) Locale; `language` overrides its uiLanguage (config.huajia.language).
 */
export function label(locale, message, language = '') {
  const translated = typeof locale?.t === 'function' ? locale.t(message) : message;
  if (translated && translated !== message) return translated;
  const wanted = panelLanguage(language || locale?.uiLanguage);
  return wanted === 'zh-CN' ? CHINESE[message] || message : message;
}
