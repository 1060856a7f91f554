// The admin page for style presets: list, create, edit (a new version each time), retire.
import { HuajiaClient } from '../panel/client.js';
import { LANGUAGES, pickLabel, resolveLanguage } from '../panel/i18n.js';
import { loadApiKey, loadLanguage, saveLanguage } from '../panel/prefs.js';
import { say } from './presets-text.js';

const client = new HuajiaClient(globalThis.location.origin, loadApiKey(globalThis.location.origin));
const form = document.getElementById('form');
const rows = document.getElementById('rows');
const message = document.getElementById('message');
const languages = document.getElementById('language');
let lang = resolveLanguage(null, loadLanguage(), navigator.languages);
let presets = [];
let loras = [];
let editing = null; // the name of the preset in the form, or null for a new one

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
  const title = editing ? say(lang, 'editTitle', { name: editing }) : say(lang, 'createTitle');
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

function bodyFromForm() {
  const f = form.elements;
  const defaults = {};
  if (f.width.value) defaults.width = Number(f.width.value);
  if (f.height.value) defaults.height = Number(f.height.value);
  return {
    labels: { 'zh-CN': f.zh.value.trim(), en: f.en.value.trim() },
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
  editing = preset.name;
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

async function save(event) {
  event.preventDefault();
  const body = bodyFromForm();
  try {
    const saved = editing
      ? await client.request('PUT', `/api/v1/presets/${encodeURIComponent(editing)}`, body)
      : await client.request('POST', '/api/v1/presets', { name: form.elements.name.value.trim(), ...body });
    tell(say(lang, editing ? 'updated' : 'created', saved));
    clearForm();
    await load();
  } catch (error) {
    tell(say(lang, 'failed', { message: error.message }), true);
  }
}

async function retire(preset) {
  if (!globalThis.confirm(say(lang, 'confirmRetire', { name: preset.name }))) return;
  try {
    await client.request('DELETE', `/api/v1/presets/${encodeURIComponent(preset.name)}`);
    tell(say(lang, 'retiredDone', { name: preset.name }));
    await load();
  } catch (error) {
    tell(say(lang, 'failed', { message: error.message }), true);
  }
}

async function load() {
  try {
    [presets, loras] = await Promise.all([
      client.request('GET', '/api/v1/presets?include_retired=true').then((r) => r.presets),
      client.request('GET', '/api/v1/loras').then((r) => r.loras),
    ]);
  } catch (error) {
    tell(error.message, true);
  }
  translatePage();
}

languages.replaceChildren(...LANGUAGES.map(({ code, name }) => new Option(name, code)));
languages.value = lang;
languages.addEventListener('change', () => {
  lang = languages.value;
  saveLanguage(lang);
  translatePage();
});
form.addEventListener('submit', save);
document.getElementById('clear').addEventListener('click', clearForm);
document.getElementById('new').addEventListener('click', clearForm);
load();
