// The progress bar and its live status line: what screen readers announce while a task runs.
// Texts are kept as functions of the language, so switching language re-renders the last state.
import { translate } from './i18n.js';

export class ProgressView {
  #lang = 'en';
  #last = null;
  #said = null;

  constructor({ statusBox, bar, fill, statusText }) {
    Object.assign(this, { box: statusBox, bar, fill, text: statusText });
  }

  setLanguage(lang) {
    this.#lang = lang;
    const said = this.#said;
    if (this.#last) this.#render(this.#last);
    if (said) this.say(said);
  }

  /** Before any step ran (sending, queued, starting): an indeterminate bar. `text(lang)`. */
  waiting(text) {
    this.#render({ text, now: null, max: '1', fraction: 0, state: null });
  }

  step(current, total, fraction, text) {
    this.#render({ text, now: String(current), max: String(total), fraction: fraction ?? current / total, state: null });
  }

  /** A final (or paused) state: completed (full bar), failed, canceled, paused (empty). */
  done(state, text, fraction) {
    this.#render({ text, now: String(fraction), max: '1', fraction, state });
  }

  /** waiting() with a message key: submitting, starting, preparingImage... */
  waitingFor(key, vars = {}) {
    this.waiting((lang) => translate(lang, key, vars));
  }

  /** In the queue at `position` (none: about to start). */
  queued(position) {
    this.waitingFor(position ? 'queued' : 'starting', { position });
  }

  /** A task's progress event or status: its step of all steps. */
  advance({ current_step: step, total_steps: total, progress }) {
    if (!total) this.waitingFor('starting');
    else this.step(step, total, progress, (lang) => translate(lang, 'step', { step, total }));
  }

  /** done() with a message key. */
  doneWith(key, vars, fraction) {
    this.done(key, (lang) => translate(lang, key, vars), fraction);
  }

  /** Change the status line only (canceling, reconnecting); the bar keeps its state. */
  say(text) {
    this.#said = text;
    this.text.textContent = text(this.#lang);
  }

  hide() {
    this.#last = null;
    this.#said = null;
    this.box.hidden = true;
  }

  #render(last) {
    this.#last = last;
    this.#said = null;
    const text = last.text(this.#lang);
    if (last.now === null) this.bar.removeAttribute('aria-valuenow');
    else this.bar.setAttribute('aria-valuenow', last.now);
    this.bar.setAttribute('aria-valuemax', last.max);
    this.bar.setAttribute('aria-valuetext', text);
    this.fill.style.width = `${Math.round(last.fraction * 100)}%`;
    if (last.state) this.box.dataset.state = last.state;
    else delete this.box.dataset.state;
    this.box.hidden = false;
    this.text.textContent = text;
  }
}
