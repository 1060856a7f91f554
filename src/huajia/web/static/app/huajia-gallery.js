// <huajia-gallery>: the caller's own images, searchable by prompt, filterable by style, with favourites.
// Edit on a card emits huajia-edit {image}; the web app hands the image to the panel's edit tools.
// Details (or the picture) opens <huajia-image-detail>; checked cards download as one zip.
import { ApiError, HuajiaClient } from '../panel/client.js';
import { applyTranslations, pickLabel, translate } from '../panel/i18n.js';
import { detailText } from './image-detail.js';
import { downloadZip } from './image-files.js';

const PAGE = 24;
const CSS_HREF = new URL('./huajia-gallery.css', import.meta.url).href;

const MARKUP = `
<link rel="stylesheet" href="${CSS_HREF}">
<section aria-labelledby="hj-gallery">
  <h2 id="hj-gallery" data-t="gallery"></h2>
  <form class="filters" role="search" data-ref="filters">
    <label><span data-t="search"></span><input type="search" name="q"></label>
    <span class="pick"><label for="hj-preset" data-t="filterStyle"></label><select id="hj-preset" name="preset"></select></span>
    <label class="check"><input type="checkbox" name="favourites"><span data-t="favouritesOnly"></span></label>
  </form>
  <p class="message" data-ref="message" role="status"></p>
  <ul class="cards" data-ref="cards"></ul>
  <button type="button" data-ref="zip" disabled></button>
  <button type="button" data-ref="more" data-t="loadMore" hidden></button>
</section>
<huajia-image-detail data-ref="detail"></huajia-image-detail>`;

export class HuajiaGallery extends HTMLElement {
  #refs = {};
  #lang = 'en';
  #client = new HuajiaClient('');
  #presets = [];
  #sizes = [];
  #selected = new Set();
  #images = [];
  #total = 0;
  #searchTimer = 0;
  #loads = 0;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = MARKUP;
    for (const node of root.querySelectorAll('[data-ref]')) this.#refs[node.dataset.ref] = node;
    const filters = this.#refs.filters;
    filters.addEventListener('submit', (event) => { event.preventDefault(); this.refresh(); });
    // The search box refreshes as the user types; a 'change' when it loses focus would only race.
    filters.addEventListener('change', (event) => event.target.name !== 'q' && this.refresh());
    filters.elements.q.addEventListener('input', () => {
      clearTimeout(this.#searchTimer);
      this.#searchTimer = setTimeout(() => this.refresh(), 300);
    });
    this.#refs.more.addEventListener('click', () => this.#load(this.#images.length));
    this.#refs.zip.addEventListener('click', () => this.#zip());
  }

  /** Called by the page when the panel's language, key or style presets change. */
  configure({ lang, client, presets, sizes }) {
    if (lang) this.#lang = lang;
    if (client) this.#client = client;
    if (presets) this.#presets = presets;
    if (sizes) this.#sizes = sizes;
    applyTranslations(this.shadowRoot, this.#lang);
    const select = this.#refs.filters.elements.preset;
    const keep = select.value;
    select.replaceChildren(new Option(translate(this.#lang, 'allStyles'), ''),
      ...this.#presets.map((p) => new Option(pickLabel(p.labels, this.#lang, p.name), p.name)));
    select.value = keep;
    this.#render();
  }

  refresh() {
    return this.#load(0);
  }

  async #load(offset) {
    const filters = this.#refs.filters.elements;
    const load = ++this.#loads;
    try {
      const page = await this.#client.images({
        q: filters.q.value.trim(), preset: filters.preset.value,
        favourites: filters.favourites.checked ? 'true' : '', limit: PAGE, offset,
      });
      if (load !== this.#loads) return; // a newer search has been sent since
      this.#images = offset ? [...this.#images, ...page.images] : page.images;
      this.#total = page.total;
      this.#refs.message.textContent = this.#images.length ? '' : translate(this.#lang, 'noImages');
    } catch (err) {
      this.#images = [];
      this.#refs.message.textContent = err instanceof ApiError && err.status === 401
        ? translate(this.#lang, 'apiKeyNeeded') : `${err.message}`;
    }
    this.#render();
  }

  #render() {
    this.#refs.cards.replaceChildren(...this.#images.map((image, index) => this.#card(image, index)));
    this.#refs.more.hidden = this.#images.length >= this.#total;
    this.#showSelection();
  }

  /** Open the detail view on the card at `index`; ←/→ there move through the loaded cards. */
  openDetail(index) {
    const visible = this.#images.filter((image) => image.review?.state !== 'rejected');
    const at = visible.indexOf(this.#images[index]);
    this.#refs.detail.show(visible, Math.max(0, at), { client: this.#client, lang: this.#lang, sizes: this.#sizes });
  }

  #detailControls(image, index, tools) {
    const details = document.createElement('button');
    details.type = 'button';
    details.textContent = detailText(this.#lang, 'details');
    details.setAttribute('aria-label', `${detailText(this.#lang, 'details')}: ${image.prompt || image.id}`);
    details.addEventListener('click', () => this.openDetail(index));
    const pick = document.createElement('input');
    pick.type = 'checkbox';
    pick.checked = this.#selected.has(image.id);
    pick.setAttribute('aria-label', `${detailText(this.#lang, 'select')}: ${image.prompt || image.id}`);
    pick.addEventListener('change', () => {
      if (pick.checked) this.#selected.add(image.id);
      else this.#selected.delete(image.id);
      this.#showSelection();
    });
    // The label is the checkbox's larger hit area on touch screens (see huajia-gallery.css).
    const hit = document.createElement('label');
    hit.className = 'hit';
    hit.append(pick);
    tools.append(details, hit);
  }

  #showSelection() {
    const known = new Set(this.#images.map((image) => image.id));
    for (const id of this.#selected) if (!known.has(id)) this.#selected.delete(id);
    const { zip } = this.#refs;
    zip.textContent = `${detailText(this.#lang, 'zip')} (${this.#selected.size})`;
    zip.disabled = this.#selected.size === 0;
  }

  async #zip() {
    try {
      await downloadZip(this.#client, [...this.#selected]);
    } catch (err) {
      this.#refs.message.textContent = err.message;
    }
  }

  #card(image, index) {
    const card = document.createElement('li');
    const img = document.createElement('img');
    img.alt = image.prompt || '';
    img.loading = 'lazy';
    const state = image.review?.state || 'none';
    if (image.url) img.src = this.#client.assetUrl(image.thumbnail_url || image.url);
    else if (state === 'pending_review') this.#showPreview(image, img);
    const caption = document.createElement('p');
    caption.textContent = image.prompt || '';
    // Not publishable yet (or refused): say so, and offer nothing that would publish it.
    const review = document.createElement('p');
    review.className = `review ${state}`;
    review.hidden = Boolean(image.url);
    review.textContent = state === 'rejected'
      ? translate(this.#lang, 'review.rejected', { reason: image.review?.reason || '' })
      : translate(this.#lang, 'review.pending');
    const star = document.createElement('button');
    star.type = 'button';
    star.className = 'star';
    star.textContent = image.favourite ? '★' : '☆';
    star.setAttribute('aria-pressed', String(Boolean(image.favourite)));
    star.setAttribute('aria-label', `${translate(this.#lang, 'favourite')}: ${image.prompt || image.id}`);
    star.addEventListener('click', () => this.#toggleFavourite(image, star));
    const download = document.createElement('a');
    // ?download=1: the service answers Content-Disposition: attachment, so the page stays.
    download.href = this.#client.downloadUrl(image.url);
    download.download = `huajia-${image.seed}.${image.format || 'png'}`;
    download.rel = 'noopener';
    download.textContent = translate(this.#lang, 'download');
    download.setAttribute('aria-label', `${translate(this.#lang, 'download')}: ${image.prompt || image.id}`);
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.textContent = translate(this.#lang, 'edit');
    edit.setAttribute('aria-label', `${translate(this.#lang, 'edit')}: ${image.prompt || image.id}`);
    // The page opens the panel's edit tools on it (the gallery has no tools of its own).
    edit.addEventListener('click', () => this.dispatchEvent(new CustomEvent('huajia-edit', {
      detail: { image }, bubbles: true, composed: true,
    })));
    const tools = document.createElement('div');
    tools.className = 'tools';
    tools.append(star);
    if (image.url) tools.append(download);
    if (state !== 'rejected') {
      tools.append(edit);
      this.#detailControls(image, index, tools);
      img.addEventListener('click', () => this.openDetail(index));
    }
    card.append(...(state === 'rejected' ? [] : [img]), caption, review, tools);
    return card;
  }

  /** A waiting image's preview: fetched with the API key (it has no public address yet). */
  async #showPreview(image, img) {
    try {
      const url = new URL(this.#client.url(image.preview_url));
      url.searchParams.set('thumbnail', 'true');
      const response = await fetch(url.href, {
        headers: this.#client.headers({ Accept: 'image/*' }), cache: 'no-store',
      });
      if (!response.ok) return;
      const src = URL.createObjectURL(await response.blob());
      img.addEventListener('load', () => URL.revokeObjectURL(src), { once: true });
      img.src = src;
    } catch {
      // the card still says the image waits for review
    }
  }

  async #toggleFavourite(image, star) {
    const favourite = !image.favourite;
    try {
      await this.#client.setFavourite(image.id, favourite);
      image.favourite = favourite;
      star.textContent = favourite ? '★' : '☆';
      star.setAttribute('aria-pressed', String(favourite));
    } catch (err) {
      this.#refs.message.textContent = err.message;
    }
  }
}

if (!customElements.get('huajia-gallery')) customElements.define('huajia-gallery', HuajiaGallery);
