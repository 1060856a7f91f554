// The panel's API key: the configured `api-key` attribute, else the key the user saved for the
// endpoint. After a 401 the key form asks for one; a typed key is saved once the service accepts it.
import { ApiError, HuajiaClient } from './client.js';
import { loadApiKey, saveApiKey } from './prefs.js';

/**
 * Which key the panel's `client` uses, and the form that asks for one. `host` is the panel (its
 * `endpoint` and `api-key`); `onKey(apiKey)` gets each non-empty key typed into the form.
 */
export class ApiKeys {
  client = null;
  #host;
  #form;
  #detail;

  constructor(host, { keyForm, keyDetail }, onKey) {
    this.#host = host;
    this.#form = keyForm;
    this.#detail = keyDetail;
    keyForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const apiKey = keyForm.elements.apiKey.value.trim();
      if (apiKey) onKey(apiKey);
    });
  }

  /** The configured key, or else the key saved for this endpoint. */
  useConfigured(configured = this.#host.getAttribute('api-key')) {
    this.client = new HuajiaClient(this.#host.endpoint, configured || loadApiKey(this.#host.endpoint));
  }

  /** A key the user typed; `save(apiKey)` keeps it once the service accepted it. */
  useTyped(apiKey) {
    this.client = new HuajiaClient(this.#host.endpoint, apiKey);
  }

  save(apiKey) {
    saveApiKey(this.#host.endpoint, apiKey);
  }

  /**
   * The configured key was refused but the user saved another key for this endpoint: use that
   * one from now on (a stale configured key must not ask on every load). True if switched.
   */
  useSavedKeyAfter401(err) {
    if (!(err instanceof ApiError) || err.status !== 401) return false;
    const { endpoint } = this.#host;
    const configured = this.#host.getAttribute('api-key') || '';
    const saved = loadApiKey(endpoint);
    if (!configured || this.client.apiKey !== configured || !saved || saved === configured) return false;
    this.client = new HuajiaClient(endpoint, saved);
    return true;
  }

  /** Run `attempt`; if it fails and that switched to the saved key (see above), run it once more. */
  async withSavedKeyRetry(attempt) {
    try {
      return await attempt();
    } catch (err) {
      if (!this.useSavedKeyAfter401(err)) throw err;
      return attempt();
    }
  }

  /** Show the key form with the service's message and put focus in the key field. */
  ask(err) {
    this.#form.hidden = false;
    this.#detail.textContent = err.message || '';
    this.#form.elements.apiKey.focus();
  }

  /** A key works: nothing to ask. */
  hideForm() {
    this.#form.hidden = true;
    this.#detail.textContent = '';
  }

  /** True when `node` (the focused element, say) is in the key form. */
  formContains(node) { return this.#form.contains(node); }
}
