// <huajia-panel endpoint="https://huajia.example" api-key="..." lang="zh-CN" mode="editor|app" closable>
// The one generate panel: the web app, the CKEditor plugin and other editors all host this element.
// Events (bubbling, composed): huajia-insert {images: [{url, width, height, alt, seed}], prompt, caption},
// huajia-close, huajia-completed {result}, huajia-languagechange {lang}, huajia-apikey {apiKey}.
import { ApiError, HuajiaClient, followTask } from './client.js';
import { LANGUAGES, applyTranslations, normalizeLanguage, pickLabel, resolveLanguage, translate } from './i18n.js';
import { COUNTS, panelMarkup } from './panel-template.js';
import { ProgressView } from './panel-progress.js';
import { altFromPrompt, renderResults } from './panel-results.js';
import { loadApiKey, loadLanguage, loadPrefs, saveApiKey, saveLanguage, savePrefs } from './prefs.js';

const CSS_HREF = new URL('./huajia-panel.css', import.meta.url).href;
const CUSTOM = 'custom';

export class HuajiaPanel extends HTMLElement {
  static observedAttributes = ['lang', 'api-key', 'mode', 'closable'];

  #refs = {};
  #lang = 'en';
  #client = null;
  #catalog = { presets: [], sizes: [], model: null };
  #task = null;
  #shown = { images: [], request: null };
  #selected = new Set();
  #started = false;
  #progress;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open', delegatesFocus: true });
    root.innerHTML = panelMarkup(CSS_HREF);
    for (const node of root.querySelectorAll('[data-ref]')) this.#refs[node.dataset.ref] = node;
    this.#progress = new ProgressView(this.#refs);
    this.#refs.lang.replaceChildren(...LANGUAGES.map(({ code, name }) => new Option(name, code)));
    this.#wire();
  }

  connectedCallback() {
    if (this.#started) return;
    this.#started = true;
    this.#setLanguage(resolveLanguage(this.getAttribute('lang'), loadLanguage(), navigator.languages));
    this.#applyMode();
    this.#client = new HuajiaClient(this.endpoint, this.getAttribute('api-key') || loadApiKey(this.endpoint));
    this.#loadCatalog();
  }

  attributeChangedCallback(name, _old, value) {
    if (!this.#started) return;
    if (name === 'lang' && normalizeLanguage(value) && normalizeLanguage(value) !== this.#lang) {
      this.#setLanguage(normalizeLanguage(value));
    } else if (name === 'api-key') {
      this.#client = new HuajiaClient(this.endpoint, value || loadApiKey(this.endpoint));
    } else if (name === 'mode' || name === 'closable') {
      this.#applyMode();
    }
  }

  get endpoint() { return this.getAttribute('endpoint') || globalThis.location.origin; }
  get language() { return this.#lang; }
  /** True while a task this panel started is still queued or running. */
  get busy() { return this.#task !== null; }
  get taskId() { return this.#task?.id ?? null; }

  focusPrompt() { this.#form.elements.prompt.focus(); }

  /** Close now, or first offer to cancel the running task. */
  requestClose() {
    if (!this.busy) {
      this.#emit('huajia-close', {});
      return;
    }
    this.#refs.confirm.hidden = false;
    this.#refs.confirmCancel.focus();
  }

  async cancelTask() {
    if (!this.#task) return;
    this.#setStatusText(translate(this.#lang, 'canceling'));
    try {
      await this.#client.cancel(this.#task.id);
    } catch (err) {
      this.#showError(err);
    }
  }

  get #form() { return this.#refs.form; }

  #wire() {
    const r = this.#refs;
    this.#form.addEventListener('submit', (event) => this.#onGenerate(event));
    this.#form.elements.prompt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) this.#form.requestSubmit();
    });
    this.#form.elements.size.addEventListener('change', () => this.#showCustomSize());
    r.cancel.addEventListener('click', () => this.cancelTask());
    r.regenerate.addEventListener('click', () => this.#regenerate());
    r.insert.addEventListener('click', () => this.#insert());
    r.close.addEventListener('click', () => this.requestClose());
    r.confirmCancel.addEventListener('click', () => this.#cancelAndClose());
    r.confirmKeep.addEventListener('click', () => { r.confirm.hidden = true; this.focusPrompt(); });
    r.lang.addEventListener('change', () => this.#chooseLanguage(r.lang.value));
    r.keyForm.addEventListener('submit', (event) => this.#onApiKey(event));
  }

  #applyMode() {
    this.#refs.insertBox.hidden = this.getAttribute('mode') === 'app';
    this.#refs.close.hidden = !this.hasAttribute('closable');
  }

  #chooseLanguage(lang) {
    saveLanguage(lang);
    this.#setLanguage(lang);
    this.#emit('huajia-languagechange', { lang });
  }

  #setLanguage(lang) {
    this.#lang = lang;
    this.#refs.lang.value = lang;
    const root = this.shadowRoot;
    root.querySelector('.panel').lang = lang;
    applyTranslations(root, lang);
    if (this.#catalog.model) this.#fillChoices();
    this.#renderGrid();
    this.#updateSelection();
  }

  async #loadCatalog() {
    try {
      const [models, presets] = await Promise.all([this.#client.models(), this.#client.presets()]);
      const model = models.models.find((m) => m.name === models.default) || models.models[0] || null;
      this.#catalog = { presets: presets.presets || [], sizes: presets.sizes || [], model };
      this.#refs.keyForm.hidden = true;
      this.#refs.notice.hidden = !model?.random_weights;
      this.#fillChoices();
      this.#restorePrefs();
    } catch (err) {
      this.#showError(err);
    }
  }

  #fillChoices() {
    const { presets, sizes, model } = this.#catalog;
    const lang = this.#lang;
    const form = this.#form.elements;
    const keepStyle = form.style.value;
    const keepSize = form.size.value;
    form.style.replaceChildren(new Option(translate(lang, 'styleNone'), ''),
      ...presets.map((p) => new Option(pickLabel(p.labels, lang, p.name), p.name)));
    form.size.replaceChildren(...sizes.map((s) =>
      new Option(`${pickLabel(s.labels, lang, s.name)} (${s.width}×${s.height})`, s.name)),
    new Option(translate(lang, 'sizeCustom'), CUSTOM));
    if (keepStyle) form.style.value = keepStyle;
    if (keepSize) form.size.value = keepSize;
    if (model) this.#applyLimits(model);
    this.#showCustomSize();
  }

  #applyLimits(model) {
    const { limits, defaults } = model;
    const form = this.#form.elements;
    for (const name of ['width', 'height']) {
      Object.assign(form[name], { min: limits.min_size, max: limits.max_size, step: limits.size_multiple });
      if (!form[name].value) form[name].value = defaults[name];
    }
    form.steps.max = limits.max_steps;
    form.steps.placeholder = String(defaults.steps);
    form.negative.placeholder = defaults.negative_prompt || '';
  }

  #showCustomSize() {
    const custom = this.#form.elements.size.value === CUSTOM;
    this.#refs.custom.hidden = !custom;
    for (const name of ['width', 'height']) this.#form.elements[name].required = custom;
  }

  #restorePrefs() {
    const prefs = loadPrefs();
    const form = this.#form.elements;
    if (prefs.style !== undefined && [...form.style.options].some((o) => o.value === prefs.style)) {
      form.style.value = prefs.style;
    }
    if (prefs.size && [...form.size.options].some((o) => o.value === prefs.size)) form.size.value = prefs.size;
    if (prefs.size === CUSTOM && prefs.width && prefs.height) {
      form.width.value = prefs.width;
      form.height.value = prefs.height;
    }
    if (COUNTS.includes(prefs.count)) form.count.value = String(prefs.count);
    this.#showCustomSize();
  }

  #rememberPrefs(request) {
    const size = this.#form.elements.size.value;
    savePrefs({ style: request.style_preset || '', count: request.num_images, size,
      width: request.width, height: request.height });
  }

  /** The API request the form describes; empty advanced fields take the model's defaults. */
  #readForm() {
    const form = this.#form.elements;
    const request = { prompt: form.prompt.value.trim(), num_images: Number(form.count.value) };
    if (form.style.value) request.style_preset = form.style.value;
    const size = this.#catalog.sizes.find((s) => s.name === form.size.value);
    const custom = form.size.value === CUSTOM;
    if (size || custom) {
      request.width = custom ? Number(form.width.value) : size.width;
      request.height = custom ? Number(form.height.value) : size.height;
    }
    if (form.seed.value !== '') request.seed = Number(form.seed.value);
    if (form.steps.value !== '') request.steps = Number(form.steps.value);
    if (form.negative.value.trim()) request.negative_prompt = form.negative.value.trim();
    return request;
  }

  #onGenerate(event) {
    event.preventDefault();
    if (this.busy || !this.#form.reportValidity()) return;
    const request = this.#readForm();
    this.#rememberPrefs(request);
    this.#run(request);
  }

  #regenerate() {
    if (this.busy || !this.#shown.request) return;
    const { seed: _fixed, ...request } = this.#shown.request;
    this.#run(request);
  }

  #moreLikeThis(index) {
    if (this.busy || !this.#shown.request) return;
    const { seed: _old, ...request } = this.#shown.request;
    const image = this.#shown.images[index];
    if (image?.width && image?.height) Object.assign(request, { width: image.width, height: image.height });
    this.#run(request);
  }

  async #run(request) {
    this.#clearError();
    this.#setBusy(true);
    this.#showWaiting('submitting');
    let accepted;
    try {
      accepted = await this.#client.generate(request);
    } catch (err) {
      this.#setBusy(false);
      this.#progress.hide();
      this.#showError(err);
      return;
    }
    await this.#follow(accepted, request);
  }

  async #follow(accepted, request) {
    const task = { id: accepted.task_id, controller: new AbortController() };
    this.#task = task;
    this.#showQueued(accepted.queue_position);
    const on = {
      status: (s) => (s.status === 'pending' ? this.#showQueued(s.queue_position) : this.#showProgress(s)),
      queued: (q) => this.#showQueued(q.queue_position),
      progress: (p) => this.#showProgress(p),
      connection: (state) => state === 'lost' && this.#setStatusText(translate(this.#lang, 'reconnecting')),
    };
    try {
      this.#finish(await followTask(this.#client, task.id, on, task.controller.signal), request);
    } catch (err) {
      if (!task.controller.signal.aborted) this.#showError(err);
    } finally {
      if (this.#task === task) {
        this.#task = null;
        this.#setBusy(false);
      }
    }
  }

  #finish(end, request) {
    if (end.state === 'completed') {
      this.#shown = { images: end.result.images || [], request };
      this.#selected = new Set(this.#shown.images.length === 1 ? [0] : []);
      this.#refs.alt.value = altFromPrompt(request.prompt);
      this.#renderGrid();
      this.#updateSelection();
      this.#showDone('completed', { count: this.#shown.images.length }, 1);
      this.#emit('huajia-completed', { result: end.result });
    } else if (end.state === 'failed') {
      this.#showDone('failed', { message: end.error?.message || end.error?.code || '' }, 0);
      this.#showError(new ApiError(200, end.error?.code || 'failed', end.error?.message || ''));
    } else {
      this.#showDone('canceled', {}, 0);
    }
  }

  #renderGrid() {
    const { images } = this.#shown;
    this.#refs.results.hidden = images.length === 0;
    if (!this.#client) return;
    renderResults(this.#refs.grid, images, this.#selected, this.#lang, this.#client, {
      toggle: (index) => this.#toggle(index),
      moreLikeThis: (index) => this.#moreLikeThis(index),
    });
  }

  #toggle(index) {
    if (this.#selected.has(index)) this.#selected.delete(index);
    else this.#selected.add(index);
    const pick = this.#refs.grid.children[index]?.querySelector('.pick');
    pick?.setAttribute('aria-pressed', String(this.#selected.has(index)));
    this.#updateSelection();
  }

  #updateSelection() {
    const count = this.#selected.size;
    this.#refs.selectedCount.textContent = count ? translate(this.#lang, 'selected', { count }) : '';
    this.#refs.insert.disabled = count === 0;
  }

  #insert() {
    const alt = this.#refs.alt.value.trim();
    const images = [...this.#selected].sort((a, b) => a - b).map((index) => {
      const image = this.#shown.images[index];
      return { url: this.#client.assetUrl(image.url), width: image.width, height: image.height, alt, seed: image.seed };
    });
    if (!images.length) return;
    const caption = this.#refs.caption.value.trim();
    this.#emit('huajia-insert', { images, prompt: this.#shown.request?.prompt || '', caption });
  }

  async #cancelAndClose() {
    this.#refs.confirm.hidden = true;
    await this.cancelTask();
    this.#emit('huajia-close', {});
  }

  async #onApiKey(event) {
    event.preventDefault();
    const apiKey = this.#refs.keyForm.elements.apiKey.value.trim();
    if (!apiKey) return;
    saveApiKey(this.endpoint, apiKey);
    this.#client = new HuajiaClient(this.endpoint, apiKey);
    this.#clearError();
    this.#emit('huajia-apikey', { apiKey });
    await this.#loadCatalog();
    if (this.#refs.keyForm.hidden) this.focusPrompt();
  }

  #setBusy(busy) {
    this.#refs.generate.disabled = busy;
    this.#refs.regenerate.disabled = busy;
    this.#refs.cancel.hidden = !busy;
    this.toggleAttribute('busy', busy);
    if (!busy) this.#refs.confirm.hidden = true;
  }

  #showQueued(position) {
    this.#showWaiting(position ? 'queued' : 'starting', { position });
  }

  #showWaiting(key, vars = {}) {
    this.#progress.waiting(translate(this.#lang, key, vars));
  }

  #showProgress({ current_step: step, total_steps: total, progress }) {
    if (!total) this.#showWaiting('starting');
    else this.#progress.step(step, total, progress, translate(this.#lang, 'step', { step, total }));
  }

  #showDone(key, vars, fraction) {
    this.#progress.done(key, translate(this.#lang, key, vars), fraction);
  }

  #setStatusText(text) {
    this.#progress.say(text);
  }

  #showError(err) {
    const box = this.#refs.error;
    if (err instanceof ApiError && err.status === 401) {
      this.#refs.keyForm.hidden = false;
      this.#refs.keyForm.elements.apiKey.focus();
      box.textContent = translate(this.#lang, 'apiKeyNeeded');
    } else if (err instanceof ApiError && err.code === 'queue_full') {
      box.textContent = translate(this.#lang, 'queueFull', { seconds: err.retryAfter ?? 5 });
    } else {
      const code = err instanceof ApiError ? ` (${err.code})` : '';
      box.textContent = `${err.message || String(err)}${code}`;
    }
    box.dataset.code = err?.code || 'error';
  }

  #clearError() {
    this.#refs.error.textContent = '';
    delete this.#refs.error.dataset.code;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

if (!customElements.get('huajia-panel')) customElements.define('huajia-panel', HuajiaPanel);
