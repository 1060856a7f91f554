// The edit section of the panel: one image, seven tools. Model tools (vary, edit an area, extend,
// upscale) become tasks the panel runs like a generation; plain tools (crop, colours, text) are
// answered at once and the section carries on with the new image, so edits can be chained.
import { translate, pickLabel } from './i18n.js';
import { FocusPicker } from './focus-picker.js';
import { MaskCanvas } from './mask-canvas.js';
import { TOOLS, WARMTH_FILTER } from './edit-template.js';
import {
  MODEL_TOOLS, colourFilter, extendCanvas, modelEditRequest, plainEdit, slotBox, upscaleSize, warmthMatrix,
} from './edit-requests.js';

const APPLY = Object.fromEntries(TOOLS.map((tool) => [tool, `apply.${tool}`]));
const NEUTRAL = { brightness: '1', contrast: '1', saturation: '1', warmth: '0' };

/**
 * `host` is the panel: {client(), catalog(), language(), runEdit(request), edited(image, kind),
 * showError(err), clearError(), closed()}. Images are ImageOut objects from the API.
 */
export class EditTools {
  #refs;
  #host;
  #tool = null;
  #source = null;
  #number = 0;
  #busy = false;
  #working = false;
  #problem = null;
  #mask;
  #focus;
  #preview = ''; // an object URL of a waiting image's preview, freed when no longer shown

  constructor(refs, host) {
    this.#refs = refs;
    this.#host = host;
    this.#mask = new MaskCanvas(refs.mask, refs.brushRing);
    this.#mask.onChange = () => this.#showStrokes();
    this.#focus = new FocusPicker(refs.stage, refs.focusPoint);
    this.#focus.onChange = () => this.#onFocus();
    this.#wire();
  }

  get source() { return this.#source; }
  get isOpen() { return !this.#refs.editBox.hidden; }
  get #form() { return this.#refs.editForm; }
  get #lang() { return this.#host.language(); }

  /** Edit `image` (shown as image `number` in the grid); `prompt` pre-fills the edit prompt. */
  open(image, number, { prompt = null, focus = true } = {}) {
    const r = this.#refs;
    this.#source = image;
    this.#number = number;
    if (prompt !== null) this.#form.elements.editPrompt.value = prompt;
    this.#showImage(image);
    r.editImage.width = image.width;
    r.editImage.height = image.height;
    this.#mask.reset(image.width, image.height);
    this.#form.elements.focusMode.value = 'auto';
    this.#focus.clear();
    this.#resetColours();
    r.editBox.hidden = false;
    this.#render();
    if (focus) r.editHeading.focus();
  }

  /** A published image from its URL; one waiting for review (no URL yet) from its preview,
   * fetched with the API key (an <img> cannot send it) into an object URL, as ReviewWatch does. */
  #showImage(image) {
    const img = this.#refs.editImage;
    const client = this.#host.client();
    this.#freePreview();
    if (image.url || !image.preview_url) {
      img.src = client.assetUrl(image.url);
      return;
    }
    img.removeAttribute('src');
    fetch(client.url(image.preview_url), { headers: client.headers({ Accept: 'image/*' }), cache: 'no-store' })
      .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(`HTTP ${response.status}`))))
      .then((blob) => {
        if (this.#source !== image) return; // another image was opened meanwhile
        this.#preview = URL.createObjectURL(blob);
        img.src = this.#preview;
      })
      .catch(() => {}); // the network failed: the tools still work on the image's id
  }

  #freePreview() {
    if (this.#preview) URL.revokeObjectURL(this.#preview);
    this.#preview = '';
  }

  close() {
    this.#freePreview();
    this.#refs.editBox.hidden = true;
    this.#source = null;
    this.#select(null);
    this.#host.closed();
  }

  setBusy(busy) {
    this.#busy = busy;
    this.#updateApply();
  }

  /** Re-render texts (the panel applied data-t already) and the slot choices. */
  refresh() {
    const slot = this.#form.elements.slot;
    const keep = slot.value;
    const lang = this.#lang;
    slot.replaceChildren(...this.#host.catalog().sizes.map((s) =>
      new Option(`${pickLabel(s.labels, lang, s.name)} (${s.width}×${s.height})`, s.name)));
    if (keep) slot.value = keep;
    if (this.isOpen) this.#render();
  }

  #wire() {
    const r = this.#refs;
    for (const button of r.toolButtons.querySelectorAll('[data-tool]')) {
      button.addEventListener('click', () => this.#select(this.#tool === button.dataset.tool ? null : button.dataset.tool));
    }
    r.editClose.addEventListener('click', () => this.close());
    this.#form.addEventListener('submit', (event) => { event.preventDefault(); this.#apply(); });
    this.#form.addEventListener('input', () => this.#render());
    this.#form.addEventListener('change', (event) => this.#onChange(event));
    r.erase.addEventListener('click', () => {
      this.#mask.erasing = !this.#mask.erasing;
      r.erase.setAttribute('aria-pressed', String(this.#mask.erasing));
    });
    r.undoStroke.addEventListener('click', () => this.#mask.undo());
    r.clearMask.addEventListener('click', () => this.#mask.clear());
    r.resetColours.addEventListener('click', () => { this.#resetColours(); this.#render(); });
  }

  #select(tool) {
    this.#tool = tool;
    for (const button of this.#refs.toolButtons.querySelectorAll('[data-tool]')) {
      button.setAttribute('aria-pressed', String(button.dataset.tool === tool));
    }
    this.#refs.editForm.hidden = tool === null;
    for (const fieldset of this.#form.querySelectorAll('fieldset[data-for]')) {
      const mine = tool !== null && fieldset.dataset.for.split(' ').includes(tool);
      fieldset.hidden = !mine;
      fieldset.disabled = !mine;
    }
    this.#refs.editBox.classList.toggle('cropping', tool === 'crop');
    this.#refs.mask.hidden = tool !== 'area';
    this.#refs.brushRing.hidden = true;
    this.#focus.show(tool === 'crop');
    this.#refs.editSize.textContent = '';
    this.#problem = null;
    this.#render();
  }

  #onChange(event) {
    if (event.target.name === 'focusMode') {
      if (event.target.value === 'auto') this.#focus.clear();
      else {
        this.#focus.set(this.#focus.value || { x: 0.5, y: 0.5 });
        this.#focus.focusMarker();
      }
    }
    this.#render();
  }

  #onFocus() {
    if (this.#focus.value) this.#form.elements.focusMode.value = 'point';
    this.#render();
  }

  #values() {
    const f = this.#form.elements;
    const number = (name) => Number(f[name].value);
    return {
      strength: number('strength'), brush: number('brush'),
      brightness: number('brightness'), contrast: number('contrast'),
      saturation: number('saturation'), warmth: number('warmth'),
      text: f.text.value.trim(), anchor: f.anchor.value, size: number('size'), colour: f.colour.value,
      shadow: f.shadow.checked, bold: f.bold.checked, focus: this.#focus.value,
    };
  }

  #slot() {
    return this.#host.catalog().sizes.find((s) => s.name === this.#form.elements.slot.value) || null;
  }

  #limits() {
    return this.#host.catalog().model?.limits;
  }

  /** Everything that follows the values: outputs, previews, the size note, the Apply button. */
  #render() {
    const r = this.#refs;
    const lang = this.#lang;
    const values = this.#values();
    r.editHeading.textContent = translate(lang, 'editTitle', { index: this.#number });
    if (this.#tool) r.editApply.textContent = translate(lang, APPLY[this.#tool]);
    this.#mask.brushSize = values.brush;
    for (const output of this.#form.querySelectorAll('output[data-out]')) {
      output.textContent = shownValue(output.dataset.out, values[output.dataset.out]);
    }
    const preview = this.#tool === 'adjust';
    r.editImage.style.filter = preview ? colourFilter(values, WARMTH_FILTER) : '';
    r.warmthMatrix.setAttribute('values', warmthMatrix(preview ? values.warmth : 0));
    r.focusPoint.setAttribute('aria-label', translate(lang, 'focusMarker'));
    this.#renderCropFrame(values);
    this.#showStrokes();
    if (this.#source && this.#tool) this.#showSize();
    this.#updateApply();
  }

  #renderCropFrame(values) {
    const frame = this.#refs.cropFrame;
    const slot = this.#slot();
    frame.hidden = !(this.#tool === 'crop' && values.focus && slot && this.#source);
    if (frame.hidden) return;
    const box = slotBox(this.#source, slot, values.focus);
    const percent = (value) => `${value * 100}%`;
    Object.assign(frame.style, { left: percent(box.left), top: percent(box.top),
      width: percent(box.width), height: percent(box.height) });
  }

  /** The size the tool will make, or why it cannot: Apply is refused while there is a problem. */
  #showSize() {
    const lang = this.#lang;
    const size = this.#plannedSize();
    this.#problem = size?.problem ?? null;
    let text = '';
    if (size?.problem === 'same') text = translate(lang, 'extendSame');
    else if (size?.problem === 'tooLarge') text = translate(lang, 'tooLarge', { max: this.#limits()?.max_size });
    else if (size && !size.problem) text = translate(lang, this.#tool === 'extend' ? 'extendSize' : 'resultSize', size);
    if (this.#tool === 'crop' && !this.#focus.value) text = `${text} ${translate(lang, 'focusAutoNote')}`.trim();
    this.#refs.editSize.textContent = text;
  }

  #plannedSize() {
    const slot = this.#slot();
    if (this.#tool === 'upscale') return upscaleSize(this.#source, this.#limits());
    if (this.#tool !== 'extend' && this.#tool !== 'crop') return null;
    if (!slot) return { problem: 'noSlot' };
    return this.#tool === 'extend' ? extendCanvas(this.#source, slot, this.#limits()) : { width: slot.width, height: slot.height };
  }

  #updateApply() {
    const model = MODEL_TOOLS.has(this.#tool);
    this.#refs.editApply.disabled = Boolean((model && this.#busy) || this.#problem);
  }

  #showStrokes() {
    const count = this.#mask.strokeCount;
    this.#refs.mask.dataset.strokes = String(count);
    this.#refs.strokeCount.textContent = translate(this.#lang, 'strokes', { count });
  }

  #resetColours() {
    for (const [name, value] of Object.entries(NEUTRAL)) this.#form.elements[name].value = value;
  }

  async #apply() {
    const tool = this.#tool;
    if (!tool || !this.#source || this.#working || this.#refs.editApply.disabled) return;
    if (!this.#form.reportValidity()) return;
    if (tool === 'area' && this.#mask.isEmpty) {
      this.#refs.editSize.textContent = translate(this.#lang, 'maskEmpty');
      this.#refs.mask.focus();
      return;
    }
    this.#working = true;
    this.#form.setAttribute('aria-busy', 'true');
    this.#host.clearError();
    try {
      if (MODEL_TOOLS.has(tool)) await this.#runModelTool(tool);
      else await this.#applyPlain(tool);
    } catch (err) {
      this.#host.showError(err);
    } finally {
      this.#working = false;
      this.#form.removeAttribute('aria-busy');
    }
  }

  async #runModelTool(tool) {
    const source = this.#source;
    const values = this.#values();
    const extra = {};
    if (tool === 'area') {
      extra.maskId = (await this.#host.client().upload(await this.#mask.toBlob(), 'mask.png')).id;
    } else if (tool === 'extend') {
      Object.assign(extra, extendCanvas(source, this.#slot(), this.#limits()));
    }
    const prompt = this.#form.elements.editPrompt.value.trim();
    // Not awaited: the task is followed by the panel, like a generation.
    this.#host.runEdit(modelEditRequest(tool, source, prompt, values, extra));
  }

  async #applyPlain(tool) {
    const edit = plainEdit(tool, this.#values(), this.#slot());
    const image = await this.#host.client().editImage(this.#source.id, [edit]);
    const index = this.#host.edited(image, edit.kind);
    const keepTool = this.#tool;
    this.open(image, index + 1, { focus: false });
    this.#select(keepTool);
  }
}

function shownValue(name, value) {
  if (name === 'brush') return `${value} px`;
  if (name === 'size') return `${value}%`;
  if (name === 'warmth') return value > 0 ? `+${value.toFixed(2)}` : value.toFixed(2);
  return value.toFixed(2);
}
