// The progress bar and its live status line: what screen readers announce while a task runs.

export class ProgressView {
  constructor({ statusBox, bar, fill, statusText }) {
    Object.assign(this, { box: statusBox, bar, fill, text: statusText });
  }

  /** Before any step ran (sending, queued, starting): an indeterminate bar. */
  waiting(text) {
    this.bar.removeAttribute('aria-valuenow');
    this.#show(text, '1', 0);
  }

  step(current, total, fraction, text) {
    this.bar.setAttribute('aria-valuenow', String(current));
    this.#show(text, String(total), fraction ?? current / total);
  }

  /** A final state: completed (full bar), failed or canceled (empty). */
  done(state, text, fraction) {
    this.bar.setAttribute('aria-valuenow', String(fraction));
    this.#show(text, '1', fraction);
    this.box.dataset.state = state;
  }

  say(text) {
    this.text.textContent = text;
  }

  hide() {
    this.box.hidden = true;
  }

  #show(text, max, fraction) {
    this.bar.setAttribute('aria-valuemax', max);
    this.bar.setAttribute('aria-valuetext', text);
    this.fill.style.width = `${Math.round(fraction * 100)}%`;
    delete this.box.dataset.state;
    this.box.hidden = false;
    this.say(text);
  }
}
