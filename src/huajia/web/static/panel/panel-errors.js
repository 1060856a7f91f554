// Errors in the panel's language: a translated sentence per stable error code, with the
// service's own message (and the code) as the detail. Re-rendered when the language changes.
import { ApiError } from './client.js';
import { hasMessage, translate } from './i18n.js';

/** {summary, detail} for `err` in `lang`; detail is the service's text ('' when none helps). */
export function describeError(err, lang) {
  if (!(err instanceof ApiError)) {
    return { summary: translate(lang, 'error.unknown'), detail: err?.message || String(err) };
  }
  if (err.status === 401) return { summary: translate(lang, 'apiKeyNeeded'), detail: '' };
  const seconds = err.retryAfter ?? 5;
  if (err.code === 'queue_full') return { summary: translate(lang, 'queueFull', { seconds }), detail: '' };
  const key = `error.${err.code}`;
  const summary = translate(lang, hasMessage(key) ? key : 'error.unknown', { seconds });
  const detail = err.message && err.message !== err.code ? `${err.message} (${err.code})` : `(${err.code})`;
  return { summary, detail };
}

/** A short text for the status line: "Failed: <summary>". */
export function errorSummary(err, lang) {
  return describeError(err, lang).summary;
}

/** Fill the role=alert box: the translated sentence, then the service's text as a detail. */
export function renderError(box, err, lang) {
  if (!err) {
    box.replaceChildren();
    delete box.dataset.code;
    return;
  }
  const { summary, detail } = describeError(err, lang);
  const main = document.createElement('span');
  main.className = 'summary';
  main.textContent = summary;
  const nodes = [main];
  if (detail) {
    const extra = document.createElement('span');
    extra.className = 'detail';
    extra.textContent = ` ${translate(lang, 'errorDetail', { message: detail })}`;
    nodes.push(extra);
  }
  box.replaceChildren(...nodes);
  box.dataset.code = err?.code || 'error';
}
