// Live previews while a generation runs: one placeholder per image asked for, above the result
// grid, each showing the newest small picture of its image as it forms (sent with the task's
// `preview` events); the real images take their place in the grid when the task completes.
import { translate } from './i18n.js';

export class PreviewGrid {
  #list;
  #lang = 'en';

  constructor(list) {
    this.#list = list;
  }

  get active() { return this.#list.childElementCount > 0; }

  /** `count` empty placeholders shaped like the images asked for (width × height, if known). */
  start(count, width, height, lang) {
    this.#lang = lang;
    const items = Array.from({ length: Math.max(1, count || 1) }, (_unused, index) => {
      const item = document.createElement('li');
      item.className = 'result placeholder';
      item.dataset.index = String(index);
      const frame = document.createElement('div');
      frame.className = 'frame';
      if (width && height) frame.style.aspectRatio = `${width} / ${height}`;
      const img = document.createElement('img');
      img.hidden = true;
      img.alt = translate(lang, 'previewOf', { index: index + 1 });
      frame.append(img);
      item.append(frame);
      return item;
    });
    this.#list.replaceChildren(...items);
    this.#list.hidden = false;
  }

  /** A `preview` event: {index, step, total_steps, image (a data URL), width, height}. */
  show({ index, step, total_steps: total, image }) {
    const item = this.#list.children[index];
    const img = item?.querySelector('img');
    if (!img || !String(image).startsWith('data:image/')) return;
    img.src = image;
    img.hidden = false;
    img.alt = translate(this.#lang, 'previewAt', { index: index + 1, step, total });
    item.dataset.step = String(step);
  }

  setLanguage(lang) {
    this.#lang = lang;
  }

  /** The task ended (its images, if any, are in the grid now). */
  clear() {
    this.#list.replaceChildren();
    this.#list.hidden = true;
  }
}
