// <huajia-image-detail>: one image in a modal dialog: full size, every parameter, seed, preset
// and its version, lineage (parent and children), "use these settings", copy link, download as
// PNG / WebP / JPEG or at a CMS slot's size. ← / → move through the list it was opened with,
// Esc closes. Emits huajia-use-settings {parameters} (bubbling, composed).
import { downloadImage, privateImageUrl } from './image-files.js';

const CSS_HREF = new URL('./image-detail.css', import.meta.url).href;

const TEXT = {
  en: {
    title: 'Image details', close: 'Close', previous: 'Previous image', next: 'Next image',
    parameters: 'Parameters', lineage: 'Lineage', parent: 'Made from', children: 'Made from this',
    none: 'none', use: 'Use these settings', copy: 'Copy link', copied: 'Link copied',
    noLink: 'No public link until a reviewer approves it', format: 'Format', size: 'Size',
    original: 'Original size', asStored: 'As stored', download: 'Download', open: 'Open image',
    details: 'Details', select: 'Select', zip: 'Download selected (zip)',
  },
  'zh-CN': {
    title: '图片详情', close: '关闭', previous: '上一张', next: '下一张',
    parameters: '参数', lineage: '来源', parent: '来自', children: '由此生成',
    none: '无', use: '使用这些设置', copy: '复制链接', copied: '链接已复制',
    noLink: '审核通过前没有公开链接', format: '格式', size: '尺寸',
    original: '原始尺寸', asStored: '原格式', download: '下载', open: '打开图片',
    details: '详情', select: '选择', zip: '打包下载所选（zip）',
  },
};

const MARKUP = `
<link rel="stylesheet" href="${CSS_HREF}">
<dialog data-ref="dialog">
  <header><h2 data-ref="title"></h2><span>
    <button type="button" data-ref="previous" data-l="previous">←</button>
    <button type="button" data-ref="next" data-l="next">→</button>
    <button type="button" data-ref="close" data-l="close">✕</button></span></header>
  <div class="body">
    <img class="full" data-ref="image" alt="">
    <div>
      <h3 data-t="parameters"></h3><dl data-ref="parameters"></dl>
      <h3 data-t="lineage"></h3><dl data-ref="lineage"></dl>
      <div class="actions">
        <button type="button" data-ref="use" data-t="use"></button>
        <button type="button" data-ref="copy" data-t="copy"></button>
      </div>
      <div class="actions">
        <label><span data-t="format"></span><select data-ref="format"></select></label>
        <label><span data-t="size"></span><select data-ref="size"></select></label>
        <button type="button" data-ref="download" data-t="download"></button>
      </div>
      <p class="status" data-ref="status" role="status"></p>
    </div>
  </div>
</dialog>`;

/** One of this view's texts in `lang` (the gallery uses it for its detail and zip controls). */
export function detailText(lang, key) {
  return (TEXT[lang] || TEXT.en)[key];
}

export class HuajiaImageDetail extends HTMLElement {
  #refs = {};
  #images = [];
  #index = 0;
  #detail = null;
  #client = null;
  #lang = 'en';
  #sizes = [];
  #objectUrl = '';
  #loads = 0; // the latest #load's number: an earlier one that ends later is dropped

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = MARKUP;
    for (const node of root.querySelectorAll('[data-ref]')) this.#refs[node.dataset.ref] = node;
    const r = this.#refs;
    r.close.addEventListener('click', () => r.dialog.close());
    r.previous.addEventListener('click', () => this.move(-1));
    r.next.addEventListener('click', () => this.move(1));
    r.use.addEventListener('click', () => this.#useSettings());
    r.copy.addEventListener('click', () => this.#copyLink());
    r.download.addEventListener('click', () => this.#download());
    r.dialog.addEventListener('keydown', (event) => this.#onKey(event));
    r.dialog.addEventListener('close', () => this.#releaseImage());
  }

  /** Open on `images[index]` (gallery entries with at least {id}); ←/→ move through `images`. */
  async show(images, index, { client, lang = 'en', sizes = [] }) {
    this.#images = images;
    this.#client = client;
    this.#lang = TEXT[lang] ? lang : 'en';
    this.#sizes = sizes;
    this.#translate();
    if (!this.#refs.dialog.open) this.#refs.dialog.showModal();
    await this.#load(index);
  }

  move(step) {
    const next = this.#index + step;
    if (next >= 0 && next < this.#images.length) return this.#load(next);
    return null;
  }

  #t(key) { return TEXT[this.#lang][key]; }

  #translate() {
    const r = this.#refs;
    for (const node of this.shadowRoot.querySelectorAll('[data-t]')) node.textContent = this.#t(node.dataset.t);
    for (const node of this.shadowRoot.querySelectorAll('[data-l]')) node.setAttribute('aria-label', this.#t(node.dataset.l));
    r.dialog.setAttribute('aria-label', this.#t('title'));
    r.title.textContent = this.#t('title');
    r.format.replaceChildren(new Option(this.#t('asStored'), ''),
      ...['png', 'webp', 'jpeg'].map((f) => new Option(f.toUpperCase(), f)));
    r.size.replaceChildren(new Option(this.#t('original'), ''),
      ...this.#sizes.map((s) => new Option(s.labels?.[this.#lang] || s.labels?.en || s.name, s.name)));
  }

  async #load(index) {
    const load = ++this.#loads;
    this.#index = index;
    const r = this.#refs;
    r.previous.disabled = index === 0;
    r.next.disabled = index >= this.#images.length - 1;
    r.status.textContent = '';
    // Until this image's details arrive, the actions would act on none (or on the image shown
    // before): they wait.
    this.#detail = null;
    for (const action of [r.use, r.copy, r.download]) action.disabled = true;
    let detail;
    try {
      detail = await this.#client.request('GET', `/api/v1/images/${this.#images[index].id}`);
    } catch (err) {
      if (load === this.#loads) r.status.textContent = err.message;
      return;
    }
    if (load !== this.#loads) return;
    this.#releaseImage();
    r.image.alt = detail.prompt || '';
    r.image.src = detail.url ? this.#client.assetUrl(detail.url) : '';
    if (!detail.url) {
      const objectUrl = await privateImageUrl(this.#client, detail).catch(() => '');
      if (load !== this.#loads) {
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        return;
      }
      this.#objectUrl = objectUrl;
      r.image.src = objectUrl;
    }
    this.#detail = detail;
    this.#renderParameters(detail);
    this.#renderLineage(detail);
    r.use.disabled = false;
    r.download.disabled = false;
    r.copy.disabled = !detail.url;
    r.copy.title = detail.url ? '' : this.#t('noLink');
  }

  #renderParameters(detail) {
    const shown = { id: detail.id, ...detail.parameters, seed: detail.seed, style_preset: detail.style_preset,
      preset_version: detail.preset_version, size: `${detail.width} × ${detail.height}` };
    const rows = Object.entries(shown).filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([key, value]) => [key, typeof value === 'object' ? JSON.stringify(value) : String(value)]);
    this.#refs.parameters.replaceChildren(...rows.flatMap(([key, value]) => [
      Object.assign(document.createElement('dt'), { textContent: key }),
      Object.assign(document.createElement('dd'), { textContent: value })]));
  }

  #renderLineage(detail) {
    const entry = (label, images) => {
      const dd = document.createElement('dd');
      if (!images.length) dd.textContent = this.#t('none');
      for (const image of images) {
        const button = Object.assign(document.createElement('button'), { type: 'button', textContent: image.id.slice(0, 8) });
        button.setAttribute('aria-label', `${this.#t('open')}: ${image.origin || ''} ${image.id.slice(0, 8)}`.trim());
        button.addEventListener('click', () => this.#openRelated(image));
        dd.append(button, ' ');
      }
      return [Object.assign(document.createElement('dt'), { textContent: label }), dd];
    };
    this.#refs.lineage.replaceChildren(...entry(this.#t('parent'), detail.parent ? [detail.parent] : []),
      ...entry(this.#t('children'), detail.children || []));
  }

  #openRelated(image) {
    const known = this.#images.findIndex((i) => i.id === image.id);
    if (known >= 0) return this.#load(known);
    this.#images = [...this.#images, image];
    return this.#load(this.#images.length - 1);
  }

  #onKey(event) {
    if (event.target instanceof HTMLSelectElement) return;
    if (event.key === 'ArrowLeft') { event.preventDefault(); this.move(-1); }
    if (event.key === 'ArrowRight') { event.preventDefault(); this.move(1); }
  }

  #useSettings() {
    if (!this.#detail) return;
    const parameters = { ...this.#detail.parameters, seed: this.#detail.seed };
    this.dispatchEvent(new CustomEvent('huajia-use-settings', { detail: { parameters }, bubbles: true, composed: true }));
    this.#refs.dialog.close();
  }

  async #copyLink() {
    try {
      await navigator.clipboard.writeText(this.#client.assetUrl(this.#detail.url));
      this.#refs.status.textContent = this.#t('copied');
    } catch (err) {
      this.#refs.status.textContent = err.message;
    }
  }

  async #download() {
    const r = this.#refs;
    try {
      await downloadImage(this.#client, this.#detail.id, r.format.value, r.size.value);
    } catch (err) {
      r.status.textContent = err.message;
    }
  }

  #releaseImage() {
    if (this.#objectUrl) URL.revokeObjectURL(this.#objectUrl);
    this.#objectUrl = '';
  }
}

if (!customElements.get('huajia-image-detail')) customElements.define('huajia-image-detail', HuajiaImageDetail);
