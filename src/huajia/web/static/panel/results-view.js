// The results part of the panel: the grid of a ResultSet, what is chosen, and Insert (or, while
// an article's image is being edited, "Replace image" with exactly one chosen image).
import { translate } from './i18n.js';
import { proposeAlt } from './alt-text.js';
import { insertDetail, renderResults, replaceDetail, setGridBusy } from './panel-results.js';
import { PreviewGrid } from './panel-previews.js';
import { ResultSet } from './result-set.js';
import { ReviewWatch } from './review-watch.js';

/**
 * `refs`: the panel's elements; `host`: {client(), language(), busy(), moreLikeThis(index),
 * edit(index), emit(type, detail), preset(name)}.
 */
export class ResultsView {
  set = new ResultSet();
  /** The source given to editImage(..., {replace: true}): Insert replaces it. */
  replacing = null;
  /** Previews of images waiting for review, and the streams that bring the decisions. */
  reviews = new ReviewWatch((image) => this.#reviewed(image));
  #refs;
  #host;
  #previews;

  constructor(refs, host) {
    this.#refs = refs;
    this.#host = host;
    this.#previews = new PreviewGrid(refs.previews);
    refs.insert.addEventListener('click', () => this.#insert());
  }

  /** A task's images: a generation replaces the grid, an edit adds its images to it. */
  showTaskResult(images, request, taskId = null) {
    const edit = request.operation && request.operation !== 'text_to_image';
    if (edit) this.set.add(images, request.operation);
    else {
      this.reviews.reset();
      this.set.replace(images, request);
    }
    const client = this.#host.client();
    if (client) this.reviews.follow(client, taskId, images);
    const alt = this.#refs.alt;
    if (!edit || !alt.value.trim()) alt.value = proposeAlt(request.prompt, this.#host.preset?.(request.style_preset));
    this.render();
  }

  /** A generation starts: placeholders for its images, filled by `showPreview` as they form. */
  startPreviews(request) {
    this.#previews.start(request.num_images, request.width, request.height, this.#host.language());
    this.#refs.results.hidden = false;
  }

  showPreview(preview) {
    this.#previews.show(preview);
  }

  /** The task ended: placeholders go (the real images, if any, are rendered next). */
  endPreviews() {
    if (!this.#previews.active) return;
    this.#previews.clear();
    this.render();
  }

  /** One image added (a plain edit's result, chosen; or a source to edit): its index. */
  add(image, kind, select = true) {
    const known = this.set.indexOf(image.id);
    if (known >= 0) return known;
    const index = this.set.add([image], kind, { select });
    this.render();
    return index;
  }

  render() {
    const lang = this.#host.language();
    this.#previews.setLanguage(lang);
    this.#refs.results.hidden = this.set.size === 0 && !this.#previews.active;
    const client = this.#host.client();
    if (client) {
      renderResults(this.#refs.grid, this.set, lang, client, {
        preview: (image, img) => this.reviews.showPreview(client, image, img),
        toggle: (index) => this.#toggle(index),
        moreLikeThis: (index) => this.#host.moreLikeThis(index),
        edit: (index) => this.#host.edit(index),
      }, this.#host.busy());
    }
    const { insert } = this.#refs;
    insert.dataset.t = this.replacing ? 'replace' : 'insert';
    insert.textContent = translate(lang, insert.dataset.t);
    this.#updateSelection();
  }

  setBusy(busy) {
    setGridBusy(this.#refs.grid, busy);
  }

  /** Edit an article's image in place (`source`), or insert again (null). */
  setReplacing(source) {
    this.replacing = source;
    this.#refs.caption.closest('label').hidden = source !== null;
    if (source) {
      this.#refs.alt.value = source.alt || '';
      this.set.selected = new Set();
    }
    this.render();
  }

  /** The grid item's toggle button for `index` (focus goes there after a run). */
  pick(index) {
    return this.#refs.grid.children[index]?.querySelector('.pick') ?? null;
  }

  /** A reviewer approved (now insertable) or rejected (reason shown) one of the images. */
  #reviewed(image) {
    if (this.set.update(image) >= 0) this.render();
  }

  #toggle(index) {
    this.set.toggle(index, this.replacing !== null);
    this.#refs.grid.querySelectorAll('.pick').forEach((pick, i) => {
      pick.setAttribute('aria-pressed', String(this.set.selected.has(i)));
    });
    this.#updateSelection();
  }

  #updateSelection() {
    const count = this.set.selected.size;
    this.#refs.selectedCount.textContent = count ? translate(this.#host.language(), 'selected', { count }) : '';
    this.#refs.insert.disabled = count === 0;
  }

  #insert() {
    const { alt, caption } = this.#refs;
    const client = this.#host.client();
    if (this.replacing && this.set.selected.size) {
      this.#host.emit('huajia-replace', replaceDetail(this.set, client, alt.value.trim(), this.replacing));
      return;
    }
    const detail = insertDetail(this.set, client, alt.value.trim(), caption.value.trim());
    if (detail.images.length) this.#host.emit('huajia-insert', detail);
  }
}
