// The images the result grid shows and which of them are chosen. A generation replaces the
// set; an edit adds its images after the others, each remembering what made it (its kind)
// so the grid can mark it as an edit of its parent. No DOM here.

export class ResultSet {
  /** [{image, kind}]: kind is null for a generated image, else the edit that made it. */
  entries = [];
  /** The text-to-image request the generated images came from (Regenerate, More like this). */
  request = null;
  selected = new Set();
  /** The index focus should go to once the run that added it has ended. */
  latest = 0;

  get images() { return this.entries.map((entry) => entry.image); }
  get size() { return this.entries.length; }

  image(index) { return this.entries[index]?.image ?? null; }
  kind(index) { return this.entries[index]?.kind ?? null; }

  /** A new generation: its images only, one image comes back chosen (if it may be inserted). */
  replace(images, request) {
    this.entries = images.map((image) => ({ image, kind: null }));
    this.request = request;
    this.selected = new Set(images.length === 1 && images[0].url ? [0] : []);
    this.latest = 0;
  }

  /** Edits of shown images (or a source brought in to edit): added after, the new ones chosen. */
  add(images, kind, { select = true } = {}) {
    const start = this.entries.length;
    this.entries.push(...images.map((image) => ({ image, kind })));
    if (select) this.selected = new Set(images.length === 1 && images[0].url ? [start] : []);
    this.latest = start;
    return start;
  }

  /** The index of the image with this id, or -1. */
  indexOf(id) {
    return this.entries.findIndex((entry) => entry.image.id === id);
  }

  /** A reviewer decided on a shown image: keep its place, un-choose it unless now published. */
  update(image) {
    const index = this.indexOf(image.id);
    if (index < 0) return -1;
    this.entries[index] = { ...this.entries[index], image: { ...this.entries[index].image, ...image } };
    if (!image.url) this.selected.delete(index);
    return index;
  }

  /** The 1-based number of an image's parent in the grid, or null when it is not shown. */
  parentNumber(index) {
    const parent = this.image(index)?.parent_id;
    const found = parent ? this.indexOf(parent) : -1;
    return found < 0 ? null : found + 1;
  }

  /** Choose or un-choose `index`; `single` keeps at most one chosen (replacing one image). */
  toggle(index, single = false) {
    if (!this.image(index)?.url) return; // waiting for review or rejected: never inserted
    if (this.selected.has(index)) this.selected.delete(index);
    else if (single) this.selected = new Set([index]);
    else this.selected.add(index);
  }

  /** The chosen images in grid order. */
  chosen() {
    return [...this.selected].sort((a, b) => a - b).map((index) => this.image(index));
  }
}
