// Prompts the editor used before, from the service (so they follow the editor to any browser):
// searchable, and one click puts a prompt (and its style) back in the form.
import { translate } from './i18n.js';

const SEARCH_DELAY_MS = 250;

export class PromptHistory {
  #refs;
  #host;
  #timer = 0;
  #loads = 0;

  /** host: { client(), language(), form() } */
  constructor(refs, host) {
    this.#refs = refs;
    this.#host = host;
    refs.history.addEventListener('toggle', () => refs.history.open && this.refresh());
    refs.historySearch.addEventListener('input', () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.refresh(), SEARCH_DELAY_MS);
    });
  }

  /** Reload the list (only while it is open: a closed list costs no request). */
  async refresh() {
    if (!this.#refs.history.open) return;
    const load = ++this.#loads;
    const lang = this.#host.language();
    try {
      const found = await this.#host.client().history(this.#refs.historySearch.value.trim());
      if (load !== this.#loads) return;
      this.#show(found.prompts, lang);
    } catch (err) {
      if (load !== this.#loads) return;
      this.#refs.historyList.replaceChildren();
      this.#refs.historyEmpty.hidden = false;
      this.#refs.historyEmpty.textContent = err.message;
    }
  }

  #show(prompts, lang) {
    this.#refs.historyEmpty.hidden = prompts.length > 0;
    this.#refs.historyEmpty.textContent = translate(lang, 'historyEmpty');
    this.#refs.historyList.replaceChildren(...prompts.map((item) => {
      const li = document.createElement('li');
      const use = Object.assign(document.createElement('button'), { type: 'button', textContent: item.prompt });
      use.title = translate(lang, 'historyUse');
      use.addEventListener('click', () => this.#use(item));
      li.append(use);
      return li;
    }));
  }

  #use(item) {
    const fields = this.#host.form().elements;
    fields.prompt.value = item.prompt;
    if (item.style_preset && [...fields.style.options].some((o) => o.value === item.style_preset)) {
      fields.style.value = item.style_preset;
    }
    this.#refs.history.open = false;
    fields.prompt.focus();
  }
}
