// The admin page for style presets: list, create, edit (a new version each time), retire.
// Needs an admin API key: the one saved for this service, or one typed here when the service
// answers 401 or 403 (saved only once the call it was typed for succeeds).
import { ApiError, HuajiaClient } from '../panel/client.js';
import { LANGUAGES, pickLabel, resolveLanguage } from '../panel/i18n.js';
import { loadApiKey, loadLanguage, saveApiKey, saveLanguage } from '../panel/prefs.js';
import { say } from './presets-text.js';

const endpoint = globalThis.location.origin;
let client = new HuajiaClient(endpoint, loadApiKey(endpoint));
const form = document.getElementById('form');
const keyForm = document.getElementById('key-form');
const rows = document.getElementById('rows');
const message = document.getElementById('message');
const languages = document.getElementById('language');
let lang = resolveLanguage(null, loadLanguage(), navigator.languages);
let presets = [];
let loras = [];
let editing = null; // the preset in the form (as loaded), or null for a new one
let pending = null; // what a 401 or 403 stopped, done again with the key typed next
// What the page reads but does not send back: a PUT carries the preset's fields only.
const NOT_FIELDS = ['name', 'version', 'retired', 'versions'];

function translatePage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = say(lang, node.dataset.t);
  const flags = [['', 'serverDefault'], ['true', 'yes'], ['false', 'no']];
  for (const name of ['review_required', 'visible_mark']) {
    const select = form.elements[name];
    const kept = select.value;
    select.replaceChildren(...flags.map(([value, key]) => new Option(say(lang, key), value)));
    select.value = kept;
  }
  fillLoras();
  showTitle();
  showRows();
}

function fillLoras() {
  const select = form.elements.lora;
  const kept = select.value;
  select.replaceChildren(new Option(say(lang, 'noLora'), ''), ...loras.map((l) => new Option(l.name, l.name)));
  select.value = kept;
}

function showTitle() {
  const title = editing ? say(lang, 'editTitle', { name: editing.name }) : say(lang, 'createTitle');
  document.getElementById('form-title').textContent = title;
  form.elements.name.readOnly = Boolean(editing);
}

function showRows() {
  rows.replaceChildren(...presets.map((preset) => {
    const row = document.createElement('tr');
    row.className = preset.retired ? 'retired' : '';
    for (const text of [preset.name, pickLabel(preset.labels, lang, preset.name), String(preset.version),
      say(lang, preset.retired ? 'retired' : 'active')]) {
      row.append(Object.assign(document.createElement('td'), { textContent: text }));
    }
    const actions = document.createElement('td');
    actions.append(button(say(lang, 'edit'), `${say(lang, 'edit')} ${preset.name}`, () => startEdit(preset)));
    if (!preset.retired) {
      actions.append(' ', button(say(lang, 'retire'), `${say(lang, 'retire')} ${preset.name}`, () => retire(preset)));
    }
    row.append(actions);
    return row;
  }));
}

function button(text, label, onClick) {
  const node = Object.assign(document.createElement('button'), { type: 'button', textContent: text });
  node.setAttribute('aria-label', label);
  node.addEventListener('click', onClick);
  return node;
}

function tell(text, isError = false) {
  message.textContent = text;
  message.className = isError ? 'message error' : 'message';
  message.setAttribute('role', isError ? 'alert' : 'status');
}

function flag(value) {
  return value === '' ? null : value === 'true';
}

/** `value` under `key` in `into`, or no `key` at all when the field was left empty. */
function setOrDrop(into, key, value) {
  if (value === '' || value === null) delete into[key];
  else into[key] = value;
}

/** The preset being edited (all it says: other labels, steps, shared_cache ...) with the
 * form's fields laid over it, since a PUT replaces the preset whole. */
function bodyFromForm() {
  const f = form.elements;
  const body = structuredClone(editing ?? {});
  for (const key of NOT_FIELDS) delete body[key];
  const defaults = { ...body.defaults };
  setOrDrop(defaults, 'width', f.width.value ? Number(f.width.value) : '');
  setOrDrop(defaults, 'height', f.height.value ? Number(f.height.value) : '');
  const labels = { ...body.labels };
  setOrDrop(labels, 'zh-CN', f.zh.value.trim());
  setOrDrop(labels, 'en', f.en.value.trim());
  return {
    ...body,
    labels,
    prompt_template: f.template.value,
    negative_prompt: f.negative.value,
    lora: f.lora.value || null,
    lora_weight: Number(f.lora_weight.value || 1),
    defaults,
    review_required: flag(f.review_required.value),
    visible_mark: flag(f.visible_mark.value),
  };
}

function startEdit(preset) {
  editing = preset;
  const f = form.elements;
  f.name.value = preset.name;
  f.zh.value = preset.labels['zh-CN'] ?? '';
  f.en.value = preset.labels.en ?? '';
  f.template.value = preset.prompt_template;
  f.negative.value = preset.negative_prompt;
  f.lora.value = preset.lora ?? '';
  f.lora_weight.value = preset.lora_weight;
  f.width.value = preset.defaults.width ?? '';
  f.height.value = preset.defaults.height ?? '';
  f.review_required.value = preset.review_required === null ? '' : String(preset.review_required);
  f.visible_mark.value = preset.visible_mark === null ? '' : String(preset.visible_mark);
  showTitle();
  f.zh.focus();
}

function clearForm() {
  editing = null;
  form.reset();
  showTitle();
}

/** On 401 or 403: ask for a key and remember `action` to do again with it; else false. */
function askForKey(error, action) {
  if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) return false;
  pending = action;
  keyForm.hidden = false;
  tell(say(lang, error.status === 401 ? 'keyNeeded' : 'notAdmin'), true);
  keyForm.elements.apiKey.focus();
  return true;
}

async function save(event) {
  event.preventDefault();
  const name = editing ? editing.name : form.elements.name.value.trim();
  await send(name, Boolean(editing), bodyFromForm());
}

/** Create or update a preset; true once the service took it. */
async function send(name, update, body) {
  try {
    const saved = update
      ? await client.request('PUT', `/api/v1/presets/${encodeURIComponent(name)}`, body)
      : await client.request('POST', '/api/v1/presets', { name, ...body });
    tell(say(lang, update ? 'updated' : 'created', saved));
    clearForm();
    await load();
    return true;
  } catch (error) {
    if (!askForKey(error, () => send(name, update, body))) tell(say(lang, 'failed', { message: error.message }), true);
    return false;
  }
}

function retire(preset) {
  if (globalThis.confirm(say(lang, 'confirmRetire', { name: preset.name }))) retireNow(preset.name);
}

async function retireNow(name) {
  try {
    await client.request('DELETE', `/api/v1/presets/${encodeURIComponent(name)}`);
    tell(say(lang, 'retiredDone', { name }));
    await load();
    return true;
  } catch (error) {
    if (!askForKey(error, () => retireNow(name))) tell(say(lang, 'failed', { message: error.message }), true);
    return false;
  }
}

async function load() {
  let loaded = false;
  try {
    [presets, loras] = await Promise.all([
      client.request('GET', '/api/v1/presets?include_retired=true').then((r) => r.presets),
      client.request('GET', '/api/v1/loras').then((r) => r.loras),
    ]);
    loaded = true;
  } catch (error) {
    if (!askForKey(error, load)) tell(error.message, true);
  }
  translatePage();
  return loaded;
}

/** A typed key is tried on what needed it, and saved only if the service accepted it there. */
async function useKey(event) {
  event.preventDefault();
  const apiKey = keyForm.elements.apiKey.value.trim();
  if (!apiKey) return;
  const action = pending ?? load;
  pending = null;
  client = new HuajiaClient(endpoint, apiKey);
  if (await action()) {
    saveApiKey(endpoint, apiKey);
    keyForm.reset();
    keyForm.hidden = true;
  }
}

languages.replaceChildren(...LANGUAGES.map(({ code, name }) => new Option(name, code)));
languages.value = lang;
languages.addEventListener('change', () => {
  lang = languages.value;
  saveLanguage(lang);
  translatePage();
});
form.addEventListener('submit', save);
keyForm.addEventListener('submit', useKey);
document.getElementById('clear').addEventListener('click', clearForm);
document.getElementById('new').addEventListener('click', clearForm);
load();
