// The campaign batch page (/batches): a sheet (CSV/XLSX) or pasted lines → one task per row;
// each row's state or error as it goes; cancel the rest; download the images with a manifest.
import { ApiError, HuajiaClient, readServerEvents } from '../panel/client.js';
import { LANGUAGES, resolveLanguage } from '../panel/i18n.js';
import { loadApiKey, loadLanguage, saveApiKey, saveLanguage } from '../panel/prefs.js';

const TEXT = {
  en: {
    back: 'Back to the app', heading: 'Campaign batch', apiKey: 'API key', useKey: 'Use key',
    explain: 'A CSV or Excel sheet with the columns prompt, style, size or slot, count, filename and alt — or one prompt per line.',
    sheet: 'Sheet (CSV or XLSX)', lines: 'Or one prompt per line', start: 'Generate the batch',
    cancel: 'Cancel the rest', download: 'Download zip', row: 'Row', prompt: 'Prompt',
    state: 'State', detail: 'Detail', needKey: 'This service needs an API key.',
    nothing: 'Choose a sheet or type prompts first.', sending: 'Sending…',
    counts: '{done} of {total} rows done · {errors} with errors', finished: 'Finished.',
    images: '{count} image(s)',
  },
  'zh-CN': {
    back: '返回应用', heading: '批量生成', apiKey: 'API 密钥', useKey: '使用密钥',
    explain: 'CSV 或 Excel 表格，列为 prompt、style、size 或 slot、count、filename、alt；也可以每行一个提示词。',
    sheet: '表格（CSV 或 XLSX）', lines: '或每行一个提示词', start: '开始批量生成',
    cancel: '取消其余', download: '下载 zip', row: '行', prompt: '提示词', state: '状态',
    detail: '详情', needKey: '此服务需要 API 密钥。', nothing: '请先选择表格或输入提示词。',
    sending: '正在提交…', counts: '已完成 {done}/{total} 行 · {errors} 行有错误', finished: '已完成。',
    images: '{count} 张图片',
  },
};

const endpoint = globalThis.location.origin;
const $ = (id) => document.getElementById(id);
const state = {
  lang: resolveLanguage(null, loadLanguage(), navigator.languages),
  client: new HuajiaClient(endpoint, loadApiKey(endpoint)),
  batch: null,
  timer: 0,
  follower: null,
  untriedKey: '', // a typed key, saved once a call made with it succeeds
};

function t(key, vars = {}) {
  const text = (TEXT[state.lang] || TEXT.en)[key] ?? TEXT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

function translatePage() {
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll('[data-b]')) node.textContent = t(node.dataset.b);
}

function say(text, error = false) {
  $('message').textContent = text;
  $('message').classList.toggle('error', error);
}

async function call(path, init = {}) {
  const response = await fetch(state.client.url(path), {
    ...init, headers: state.client.headers(init.headers || {}),
  });
  if (response.status === 401) {
    state.untriedKey = '';
    $('key-form').hidden = false;
    throw new Error(t('needKey'));
  }
  if (response.ok) keepAcceptedKey();
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(response.status, body.error?.code, body.error?.message || `HTTP ${response.status}`);
  }
  return response;
}

/** The typed key worked: remember it for this service (a refused one is never saved). */
function keepAcceptedKey() {
  if (!state.untriedKey || state.untriedKey !== state.client.apiKey) return;
  saveApiKey(endpoint, state.untriedKey);
  state.untriedKey = '';
}

function render(batch) {
  state.batch = batch;
  $('result').hidden = false;
  const total = batch.rows.length;
  const errors = batch.rows.filter((row) => row.state === 'error').length;
  const done = batch.rows.filter((row) => !['pending', 'processing'].includes(row.state)).length;
  $('counts').textContent = `${t('counts', { done, total, errors })}${batch.finished ? ` ${t('finished')}` : ''}`;
  $('warnings').replaceChildren(...batch.warnings.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
  $('download').disabled = !batch.finished;
  $('cancel').disabled = batch.finished;
  $('rows').tBodies[0].replaceChildren(...batch.rows.map((row) => {
    const tr = document.createElement('tr');
    tr.dataset.row = row.row;
    const detail = row.error || (row.images.length ? t('images', { count: row.images.length }) : '');
    for (const [text, cls] of [[row.row], [row.prompt], [row.state, `state-${row.state}`], [detail]]) {
      const td = Object.assign(document.createElement('td'), { textContent: String(text) });
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  }));
}

/** Follow the batch over SSE: the whole batch, then each row as it changes, then finished.
 * A stream that drops (a restarting server) is opened again a second later. */
async function follow(batchId) {
  state.follower?.abort();
  const follower = new AbortController();
  state.follower = follower;
  while (!follower.signal.aborted && state.batch?.batch_id === batchId && !state.batch.finished) {
    try {
      const response = await call(`/api/v1/batches/${batchId}/events`, {
        headers: { Accept: 'text/event-stream' }, signal: follower.signal,
      });
      for await (const { event, data } of readServerEvents(response.body)) {
        if (follower.signal.aborted) return;
        apply(event, JSON.parse(data));
      }
    } catch (err) {
      if (follower.signal.aborted) return;
      say(err.message, true);
    }
    if (!state.batch.finished) await new Promise((resolve) => { state.timer = setTimeout(resolve, 1000); });
  }
}

function apply(event, data) {
  if (event === 'batch') render(data);
  else if (event === 'row') {
    const { batch_id: _, counts, ...row } = data;
    render({ ...state.batch, counts, rows: state.batch.rows.map((old) => (old.row === row.row ? row : old)) });
  } else if (event === 'finished') render({ ...state.batch, counts: data.counts, finished: true });
}

async function start(event) {
  event.preventDefault();
  const form = event.target;
  const file = form.elements.file.files[0];
  const lines = form.elements.lines.value.trim();
  if (!file && !lines) { say(t('nothing'), true); return; }
  say(t('sending'));
  try {
    let init;
    if (file) {
      const body = new FormData();
      body.append('file', file);
      init = { method: 'POST', body };
    } else {
      init = { method: 'POST', body: JSON.stringify({ lines }), headers: { 'Content-Type': 'application/json' } };
    }
    render(await (await call('/api/v1/batches', init)).json());
    say('');
    follow(state.batch.batch_id);
  } catch (err) {
    say(err.message, true);
  }
}

async function cancel() {
  try {
    render(await (await call(`/api/v1/batches/${state.batch.batch_id}/cancel`, { method: 'POST' })).json());
  } catch (err) {
    say(err.message, true);
  }
}

async function download() {
  try {
    const blob = await (await call(`/api/v1/batches/${state.batch.batch_id}/zip`)).blob();
    const link = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(blob), download: `huajia-batch-${state.batch.batch_id.slice(0, 8)}.zip`,
    });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (err) {
    say(err.message, true);
  }
}

function setUp() {
  const select = $('lang');
  select.replaceChildren(...LANGUAGES.map(({ code, name }) => new Option(name, code)));
  select.value = state.lang;
  select.addEventListener('change', () => {
    state.lang = select.value;
    saveLanguage(state.lang);
    translatePage();
    if (state.batch) render(state.batch);
  });
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = event.target.elements.apiKey.value.trim();
    state.client = new HuajiaClient(endpoint, key);
    state.untriedKey = key;
    $('key-form').hidden = true;
    say('');
  });
  $('batch-form').addEventListener('submit', start);
  $('cancel').addEventListener('click', cancel);
  $('download').addEventListener('click', download);
  translatePage();
}

setUp();
