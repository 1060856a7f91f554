// <huajia-panel endpoint="https://huajia.example" api-key="..." lang="zh-CN" mode="editor|app" closable>
// The one generate and edit panel: the web app, the CKEditor plugin and other editors host it.
// Events (bubbling, composed): huajia-insert {images: [{id, url, width, height, alt, seed}], prompt,
// caption}, huajia-replace {image, alt, source} (after editImage(source, {replace: true})), huajia-close,
// huajia-completed {result}, huajia-edited {image}, huajia-languagechange {lang}, huajia-apikey {apiKey}.
import { ApiError, followTask } from './client.js';
import { ApiKeys } from './panel-api-key.js';
import { LANGUAGES, applyTranslations, normalizeLanguage, resolveLanguage, translate } from './i18n.js';
import { panelMarkup } from './panel-template.js';
import { ProgressView } from './panel-progress.js';
import { errorSummary, renderError } from './panel-errors.js';
import { applySettings } from './form-fill.js';
import { fillChoices, readForm, rememberPrefs, restorePrefs, showCustomSize } from './panel-form.js';
import { PromptHistory } from './panel-history.js';
import { chosenModel, fillModels, limitsText, picking, selectModel } from './model-picker.js';
import { ResultsView } from './results-view.js';
import { TaskRun } from './panel-run.js';
import { EditTools } from './edit-tools.js';
import { resolveSource } from './edit-source.js';
import { loadLanguage, saveLanguage } from './prefs.js';

const CSS_HREF = new URL('./huajia-panel.css', import.meta.url).href;

export class HuajiaPanel extends HTMLElement {
  static observedAttributes = ['lang', 'api-key', 'mode', 'closable'];

  #refs = {};
  #lang = 'en';
  #history;
  /** The form's choices: style presets, the sizes and `model` of the model chosen, `models`
   * served (as GET /api/v1/models lists them), `picking` when there is a choice of model. */
  #catalog = { presets: [], sizes: [], model: null, models: [], picking: false, fallbackSizes: [] };
  /** The TaskRun in progress, from the click (request still being sent) to the task's end. */
  #task = null;
  #error = null;
  #started = false;
  #progress;
  #keys;
  #view;
  #edit;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open', delegatesFocus: true });
    root.innerHTML = panelMarkup(CSS_HREF);
    for (const node of root.querySelectorAll('[data-ref]')) this.#refs[node.dataset.ref] = node;
    this.#progress = new ProgressView(this.#refs);
    this.#keys = new ApiKeys(this, this.#refs, (apiKey) => this.#onApiKey(apiKey));
    this.#view = new ResultsView(this.#refs, {
      client: () => this.#client, language: () => this.#lang, busy: () => this.busy,
      moreLikeThis: (index) => this.#moreLikeThis(index), edit: (index) => this.#edit.open(this.#view.set.image(index), index + 1, { prompt: this.#lastPrompt() }),
      emit: (type, detail) => this.#emit(type, detail),
      preset: (name) => this.#catalog.presets.find((p) => p.name === name) || null,
    });
    this.#edit = new EditTools(this.#refs, this.#editHost());
    this.#history = new PromptHistory(this.#refs, {
      client: () => this.#client, language: () => this.#lang, form: () => this.#form,
    });
    this.#refs.lang.replaceChildren(...LANGUAGES.map(({ code, name }) => new Option(name, code)));
    this.#wire();
  }

  connectedCallback() {
    if (this.#started) {
      // Moved in the page: pick the task up again where disconnectedCallback left it.
      const task = this.#task;
      if (task?.id && task.signal.aborted && !task.paused) this.#resume(task);
      return;
    }
    this.#started = true;
    this.#setLanguage(resolveLanguage(this.getAttribute('lang'), loadLanguage(), navigator.languages));
    this.#applyMode();
    this.#keys.useConfigured();
    this.#loadCatalog();
  }

  /** Removed from the page: close the event stream (and any request in flight); no more events. */
  disconnectedCallback() {
    this.#task?.abort();
  }

  attributeChangedCallback(name, _old, value) {
    if (!this.#started) return;
    if (name === 'lang' && normalizeLanguage(value) && normalizeLanguage(value) !== this.#lang) {
      this.#setLanguage(normalizeLanguage(value));
    } else if (name === 'api-key') {
      this.#keys.useConfigured(value);
    } else if (name === 'mode' || name === 'closable') {
      this.#applyMode();
    }
  }

  get endpoint() { return this.getAttribute('endpoint') || globalThis.location.origin; }
  get language() { return this.#lang; }
  /** True from the moment a request is sent until its task ends (sending, queued, running). */
  get busy() { return this.#task !== null; }
  get taskId() { return this.#task?.id ?? null; }
  /** True while the panel edits an image of the article (Insert then replaces it). */
  get replacing() { return this.#view.replacing !== null; }

  focusPrompt() { this.#form.elements.prompt.focus(); }

  /** "Use these settings": fill the form from an image's parameters (see form-fill.js). */
  useSettings(parameters) {
    if (selectModel(this.#form, parameters?.model)) this.#useModel();
    applySettings(this.#form, this.#refs.custom, this.#catalog, parameters);
    this.focusPrompt();
  }

  /**
   * Open the edit tools on `source`: an image of the service ({id, url, width?, height?}) or any
   * picture ({url}: read and uploaded first). With `replace`, Insert becomes "Replace image" and
   * emits huajia-replace for one chosen image. Resolves to false when the image cannot be read.
   */
  async editImage(source, { replace = false } = {}) {
    this.#view.setReplacing(replace ? source : null);
    this.#clearError();
    const image = await resolveSource(this.#client, source).catch((err) => this.#showError(err));
    if (!image) return false;
    const index = this.#view.add(image, image.parent_id ? 'edit' : null, false);
    this.#edit.open(image, index + 1, { prompt: source.prompt || this.#lastPrompt() });
    return true;
  }

  /** Close the edit tools and stop replacing: Insert inserts again. */
  closeEditor() {
    if (this.#edit.isOpen) this.#edit.close();
    this.#view.setReplacing(null);
  }

  /** Close now, or first offer to cancel the running task. */
  requestClose() {
    if (!this.busy) {
      this.#emit('huajia-close', {});
      return;
    }
    this.#refs.confirm.hidden = false;
    this.#refs.confirmCancel.focus();
  }

  /** Cancel the run: a request still being sent is canceled as soon as the service accepts it. */
  async cancelTask() {
    const task = this.#task;
    if (!task) return;
    task.cancelRequested = true;
    this.#progress.say((lang) => translate(lang, 'canceling'));
    if (await task.settled()) await this.#sendCancel(task);
  }

  get #form() { return this.#refs.form; }
  get #client() { return this.#keys.client; }

  #wire() {
    const r = this.#refs;
    this.#form.addEventListener('submit', (event) => this.#onGenerate(event));
    this.#form.elements.prompt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) this.#form.requestSubmit();
    });
    this.#form.elements.size.addEventListener('change', () => showCustomSize(this.#form, r.custom));
    this.#form.elements.model.addEventListener('change', () => this.#useModel());
    r.cancel.addEventListener('click', () => this.cancelTask());
    r.regenerate.addEventListener('click', () => this.#regenerate());
    r.close.addEventListener('click', () => this.requestClose());
    r.confirmCancel.addEventListener('click', () => this.#cancelAndClose());
    r.confirmKeep.addEventListener('click', () => { r.confirm.hidden = true; this.focusPrompt(); });
    r.lang.addEventListener('change', () => this.#chooseLanguage(r.lang.value));
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
    if (this.#catalog.model) {
      fillChoices(this.#form, this.#refs.custom, this.#catalog, lang);
      this.#refs.modelLimits.textContent = limitsText(this.#catalog.model, lang);
    }
    this.#progress.setLanguage(lang);
    if (this.#error) renderError(this.#refs.error, this.#error, lang);
    this.#edit.refresh();
    this.#view.render();
  }

  /** Models and presets; true once they arrived (which also proves the API key works). */
  async #loadCatalog() {
    try {
      await this.#keys.withSavedKeyRetry(() => this.#fetchCatalog());
      return true;
    } catch (err) {
      this.#showError(err);
      return false;
    }
  }

  async #fetchCatalog() {
    const [models, presets] = await Promise.all([this.#client.models(), this.#client.presets()]);
    fillModels(this.#form, this.#refs.modelField, models);
    this.#catalog = {
      presets: presets.presets || [], sizes: presets.sizes || [], fallbackSizes: presets.sizes || [],
      model: null, models: models.models || [], picking: picking(this.#refs.modelField),
    };
    this.#keys.hideForm();
    if (this.#error?.status === 401) this.#clearError();
    this.#useModel();
    restorePrefs(this.#form, this.#refs.custom, await this.#client.prefs().catch(() => null));
    this.#useModel();
  }

  /** The form for the model chosen: its size presets, limits and defaults. */
  #useModel() {
    const model = chosenModel(this.#form, this.#catalog.models);
    this.#catalog.model = model;
    this.#catalog.sizes = model?.sizes || this.#catalog.fallbackSizes;
    this.#refs.notice.hidden = !model?.random_weights;
    this.#refs.modelLimits.textContent = limitsText(model, this.#lang);
    fillChoices(this.#form, this.#refs.custom, this.#catalog, this.#lang);
    this.#edit.refresh();
  }

  #onGenerate(event) {
    event.preventDefault();
    if (this.busy || !this.#form.reportValidity()) return;
    const request = readForm(this.#form, this.#catalog);
    rememberPrefs(this.#form, request, this.#client);
    this.#run(request);
  }

  #regenerate() {
    if (this.busy || !this.#view.set.request) return;
    const { seed: _fixed, ...request } = this.#view.set.request;
    this.#run(request);
  }

  #moreLikeThis(index) {
    if (this.busy || !this.#view.set.request) return;
    const { seed: _old, ...request } = this.#view.set.request;
    const image = this.#view.set.image(index);
    if (image?.width && image?.height) Object.assign(request, { width: image.width, height: image.height });
    this.#run(request);
  }

  async #run(request) {
    if (this.busy) return;
    const task = new TaskRun(request);
    this.#task = task;
    this.#clearError();
    this.#setBusy(true);
    this.#progress.waitingFor('submitting');
    let accepted;
    try {
      accepted = await task.submit(this.#client, (err) => this.#keys.useSavedKeyAfter401(err) && this.#client);
    } catch (err) {
      if (this.#task !== task) return;
      this.#endTask(task, () => {
        this.#progress.hide();
        if (!task.signal.aborted) this.#showError(err);
      });
      return;
    }
    if (this.#task !== task) return;
    if (task.cancelRequested) this.#sendCancel(task);
    else this.#progress.queued(accepted.queue_position);
    await this.#follow(task);
  }

  async #sendCancel(task) {
    try {
      await task.sendCancel(this.#client);
    } catch (err) {
      if (this.#task !== task) return;
      this.#showError(err);
      // Paused for want of a key and the service refuses: stop waiting for this task.
      if (task.paused) this.#endTask(task, () => this.#progress.doneWith('stopped', {}, 0));
    }
  }

  #resume(task) {
    task.restart();
    this.#progress.waitingFor('starting');
    this.#follow(task);
  }

  async #follow(task) {
    const { signal } = task;
    const live = (fn) => (data) => { if (this.#task === task && !signal.aborted) fn(data); };
    const on = {
      status: live((s) => (s.status === 'pending' ? this.#progress.queued(s.queue_position) : this.#progress.advance(s))),
      queued: live((q) => this.#progress.queued(q.queue_position)),
      progress: live((p) => this.#progress.advance(p)),
      connection: live((state) => state === 'lost' && this.#progress.say((lang) => translate(lang, 'reconnecting'))),
    };
    if (!task.request.operation || task.request.operation === 'text_to_image') {
      // Live previews in the grid's placeholders (edits keep their source in view instead).
      this.#view.startPreviews(task.request);
      on.preview = live((p) => this.#view.showPreview(p));
    }
    let end;
    try {
      end = await followTask(this.#client, task.id, on, signal);
    } catch (err) {
      if (signal.aborted || this.#task !== task) return;
      if (err instanceof ApiError && err.status === 401) {
        if (this.#keys.useSavedKeyAfter401(err)) this.#resume(task);
        else this.#pause(task, err);
        return;
      }
      this.#endTask(task, () => this.#showFailure(err));
      return;
    }
    if (this.#task !== task || signal.aborted) return;
    this.#endTask(task, () => this.#finish(end, task.request), end.state === 'completed');
  }

  /** A 401 while following: keep the task (busy, cancelable) and resume once a key is saved. */
  #pause(task, err) {
    task.paused = true;
    this.#progress.doneWith('paused', {}, 0);
    this.#showError(err);
  }

  /** The run is over: not busy any more; focus goes where the user can carry on. */
  #endTask(task, show, completed = false) {
    const moveFocus = this.#focusWouldBeLost();
    if (this.#task === task) this.#task = null;
    this.#setBusy(false);
    this.#view.endPreviews();
    show();
    if (!moveFocus || this.#keys.formContains(this.shadowRoot.activeElement)) return;
    const latest = this.#view.pick(this.#view.set.latest);
    (completed && latest ? latest : this.#refs.generate).focus();
  }

  /** True when focus is on something about to be disabled or hidden (or already lost to <body>). */
  #focusWouldBeLost() {
    const active = this.shadowRoot.activeElement;
    if (!active) return !document.activeElement || document.activeElement === document.body;
    const r = this.#refs;
    return [r.generate, r.regenerate, r.cancel, r.confirmCancel, r.confirmKeep].includes(active)
      || active.matches('.more, [data-idle-only]') || active.disabled || active.closest('[hidden]') !== null;
  }

  #showFailure(err) {
    this.#progress.done('failed', (lang) => translate(lang, 'failed', { message: errorSummary(err, lang) }), 0);
    this.#showError(err);
  }

  #finish(end, request) {
    if (end.state === 'completed') {
      this.#view.showTaskResult(end.result.images || [], request, end.result.task_id);
      this.#progress.doneWith('completed', { count: end.result.images?.length ?? 0 }, 1);
      this.#emit('huajia-completed', { result: end.result });
    } else if (end.state === 'failed') {
      this.#showFailure(new ApiError(200, end.error?.code || 'generation_failed', end.error?.message || ''));
    } else {
      this.#progress.doneWith('canceled', {}, 0);
    }
  }

  /** The words an edit starts from: the last generation's prompt, else what the form holds. */
  #lastPrompt() { return this.#view.set.request?.prompt || this.#form.elements.prompt.value.trim(); }

  /** What the edit tools may ask of the panel. */
  #editHost() {
    return {
      client: () => this.#client, catalog: () => this.#catalog, language: () => this.#lang,
      runEdit: (request) => this.#run(this.#withModel(request)), edited: (image, kind) => this.#addEdited(image, kind),
      showError: (err) => this.#showError(err), clearError: () => this.#clearError(),
      closed: () => this.#refs.resultsHeading.focus(),
    };
  }

  /** An AI edit runs on the model chosen (whose limits the edit tools checked it against). */
  #withModel(request) {
    const { picking, model } = this.#catalog;
    return picking && model && !request.model ? { ...request, model: model.name } : request;
  }

  /** A plain edit's new image joins the grid, chosen; the status line says which (unless busy). */
  #addEdited(image, kind) {
    const index = this.#view.add(image, kind);
    if (!this.busy) this.#progress.doneWith('edited', { index: index + 1 }, 1);
    this.#emit('huajia-edited', { image });
    return index;
  }

  async #cancelAndClose() {
    this.#refs.confirm.hidden = true;
    await this.cancelTask();
    this.#emit('huajia-close', {});
  }

  /** A typed key is kept (and announced) only once the service accepted it. */
  async #onApiKey(apiKey) {
    this.#keys.useTyped(apiKey);
    this.#clearError();
    if (!(await this.#loadCatalog())) return;
    this.#keys.save(apiKey);
    this.#emit('huajia-apikey', { apiKey });
    const task = this.#task;
    if (task?.paused) {
      this.#resume(task);
      this.#refs.cancel.focus();
    } else {
      this.focusPrompt();
    }
  }

  #setBusy(busy) {
    const r = this.#refs;
    const moveFocus = busy && this.#focusWouldBeLost();
    r.generate.disabled = busy;
    r.regenerate.disabled = busy;
    this.#view.setBusy(busy);
    this.#edit.setBusy(busy);
    r.cancel.hidden = !busy;
    this.toggleAttribute('busy', busy);
    if (!busy) r.confirm.hidden = true;
    if (moveFocus) r.cancel.focus();
  }

  #showError(err) {
    this.#error = err;
    renderError(this.#refs.error, err, this.#lang);
    if (err instanceof ApiError && err.status === 401) this.#keys.ask(err);
  }

  #clearError() {
    this.#error = null;
    renderError(this.#refs.error, null, this.#lang);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

if (!customElements.get('huajia-panel')) customElements.define('huajia-panel', HuajiaPanel);
