// The reviewers' page (/review): images waiting for review, newest or oldest first; choose some,
// then approve them or reject them with a reason. Needs a reviewer or admin API key: the key
// saved for this service (the app's key form saves it), or one typed here.
import { ApiError, HuajiaClient } from '../panel/client.js';
import { LANGUAGES, applyTranslations, resolveLanguage, translate } from '../panel/i18n.js';
import { loadApiKey, loadLanguage, saveApiKey, saveLanguage } from '../panel/prefs.js';

const endpoint = globalThis.location.origin;
const $ = (id) => document.getElementById(id);
const state = {
  lang: resolveLanguage(null, loadLanguage(), navigator.languages),
  client: new HuajiaClient(endpoint, loadApiKey(endpoint)),
  images: [],
  selected: new Set(),
  previews: [],
};

function say(text, error = false) {
  $('message').textContent = text;
  $('message').classList.toggle('error', error);
}

function t(key, vars) {
  return translate(state.lang, key, vars);
}

/** Thumbnails need the API key, which an <img> cannot send: fetch them into object URLs. */
async function showPreview(image, img) {
  const url = new URL(state.client.url(image.preview_url || image.thumbnail_url || image.url));
  if (image.preview_url) url.searchParams.set('thumbnail', 'true');
  try {
    const response = await fetch(url.href, { headers: state.client.headers({ Accept: 'image/*' }) });
    if (!response.ok) return;
    const src = URL.createObjectURL(await response.blob());
    state.previews.push(src);
    img.src = src;
  } catch {
    // The network failed: the item stays without its picture; its prompt still shows.
  }
}

function item(image) {
  const li = document.createElement('li');
  li.className = 'review-item';
  li.dataset.imageId = image.id;
  const label = document.createElement('label');
  const box = Object.assign(document.createElement('input'), { type: 'checkbox', checked: state.selected.has(image.id) });
  box.addEventListener('change', () => {
    if (box.checked) state.selected.add(image.id);
    else state.selected.delete(image.id);
    updateButtons();
  });
  const img = Object.assign(document.createElement('img'), { alt: image.prompt, width: image.width, height: image.height });
  showPreview(image, img);
  const prompt = Object.assign(document.createElement('p'), { className: 'prompt', textContent: image.prompt });
  label.append(box, img, prompt);
  const when = new Date(image.created_at).toLocaleString(state.lang);
  const meta = [when, `${image.width}×${image.height}`];
  if (image.owner) meta.unshift(t('review.owner', { owner: image.owner }));
  const info = Object.assign(document.createElement('p'), { className: 'meta', textContent: meta.join(' · ') });
  li.append(label, info);
  return li;
}

function updateButtons() {
  const none = state.selected.size === 0;
  $('approve').disabled = none;
  $('reject').disabled = none;
  $('select-all').checked = !none && state.selected.size === state.images.length;
}

async function load() {
  for (const src of state.previews.splice(0)) URL.revokeObjectURL(src);
  let page;
  try {
    page = await state.client.request('GET', `/api/v1/review?state=pending_review&order=${$('order').value}&limit=200`);
  } catch (err) {
    $('controls').hidden = true;
    $('queue').replaceChildren();
    $('empty').hidden = true;
    // 403: the saved key is an editor's; a reviewer or admin signs in here with theirs.
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) $('key-form').hidden = false;
    say(err instanceof ApiError && err.status === 403 ? t('review.notReviewer') : err.message, true);
    return false;
  }
  $('key-form').hidden = true;
  $('controls').hidden = false;
  state.images = page.images;
  const ids = new Set(page.images.map((image) => image.id));
  state.selected = new Set([...state.selected].filter((id) => ids.has(id)));
  $('total').textContent = t('review.total', { total: page.total });
  $('queue').replaceChildren(...page.images.map(item));
  $('empty').hidden = page.images.length > 0;
  updateButtons();
  return true;
}

/** Decide on every chosen image; failures are reported, the rest still go through. */
async function decide(decision, reason) {
  const ids = [...state.selected];
  const body = decision === 'reject' ? { decision, reason } : { decision };
  const results = await Promise.allSettled(
    ids.map((id) => state.client.request('POST', `/api/v1/images/${encodeURIComponent(id)}/review`, body)),
  );
  const failed = results.find((result) => result.status === 'rejected');
  const count = results.length - results.filter((result) => result.status === 'rejected').length;
  state.selected.clear();
  await load();
  const word = t(decision === 'approve' ? 'review.approved' : 'review.rejectedWord');
  say(failed ? failed.reason.message : t('review.done', { count, decision: word }), Boolean(failed));
}

function translatePage() {
  document.documentElement.lang = state.lang;
  applyTranslations(document, state.lang);
  document.title = `Huajia 画架 · ${t('review.title')}`;
}

function wire() {
  $('lang').replaceChildren(...LANGUAGES.map(({ code, name }) => new Option(name, code)));
  $('lang').value = state.lang;
  $('lang').addEventListener('change', () => {
    state.lang = $('lang').value;
    saveLanguage(state.lang);
    translatePage();
    load();
  });
  $('order').addEventListener('change', () => load());
  $('select-all').addEventListener('change', () => {
    state.selected = new Set($('select-all').checked ? state.images.map((image) => image.id) : []);
    for (const box of $('queue').querySelectorAll('input[type=checkbox]')) box.checked = $('select-all').checked;
    updateButtons();
  });
  $('approve').addEventListener('click', () => decide('approve'));
  $('reject').addEventListener('click', () => {
    $('reject-form').hidden = false;
    $('reject-form').elements.reason.focus();
  });
  $('reject-cancel').addEventListener('click', () => { $('reject-form').hidden = true; });
  $('reject-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const reason = $('reject-form').elements.reason.value.trim();
    if (!reason) {
      say(t('review.reasonRequired'), true);
      return;
    }
    $('reject-form').hidden = true;
    $('reject-form').elements.reason.value = '';
    await decide('reject', reason);
  });
  $('key-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const apiKey = $('key-form').elements.apiKey.value.trim();
    if (!apiKey) return;
    state.client = new HuajiaClient(endpoint, apiKey);
    say('');
    if (await load()) saveApiKey(endpoint, apiKey);
  });
}

wire();
translatePage();
load();
