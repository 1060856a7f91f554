// The result grid: each image is a toggle button (aria-pressed) with download, "more like this"
// (generated images) and Edit; an edit is marked with what made it and the image it came from.
import { translate } from './i18n.js';

function downloadName(image, index) {
  const ext = image.format || (image.url || '').split('.').pop() || 'png';
  return `huajia-${image.seed ?? index + 1}.${ext}`;
}

/** "Image 3, seed 0, variation, edit of image 1": the name the image's toggle button gets. */
function imageName(results, index, lang) {
  const image = results.image(index);
  const name = translate(lang, 'imageName', { index: index + 1, seed: image.seed ?? '?' });
  const note = editNote(results, index, lang);
  return note ? `${name}, ${note}` : name;
}

function editNote(results, index, lang) {
  const kind = results.kind(index);
  if (!kind) return '';
  const what = translate(lang, `kind.${kind}`);
  const parent = results.parentNumber(index);
  return parent ? translate(lang, 'editOf', { kind: what, index: parent }) : what;
}

function toolButton(className, text, label, onClick, disabled = false) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = className;
  button.disabled = disabled;
  button.textContent = text;
  button.setAttribute('aria-label', label);
  button.addEventListener('click', onClick);
  return button;
}

/** '' for a published image, else 'pending_review' or 'rejected' (not to be inserted). */
function reviewState(image) {
  if (image.url) return '';
  return image.review?.state === 'rejected' ? 'rejected' : 'pending_review';
}

/** Why an image cannot be inserted: waiting for a reviewer, or rejected with the reason. */
function reviewNote(image, lang) {
  const state = reviewState(image);
  if (state === 'rejected') return translate(lang, 'review.rejected', { reason: image.review?.reason || '' });
  return state ? translate(lang, 'review.pending') : '';
}

function resultItem(results, index, lang, client, actions, busy) {
  const image = results.image(index);
  const state = reviewState(image);
  const item = document.createElement('li');
  item.className = 'result';
  if (state) item.dataset.review = state;
  const pick = document.createElement('button');
  pick.type = 'button';
  pick.className = 'pick';
  pick.setAttribute('aria-pressed', String(results.selected.has(index)));
  pick.addEventListener('click', () => actions.toggle(index));
  const img = document.createElement('img');
  if (state === 'pending_review') actions.preview?.(image, img);
  else if (!state) img.src = client.assetUrl(image.thumbnail_url || image.url);
  img.alt = imageName(results, index, lang);
  if (image.width && image.height) {
    img.width = image.width;
    img.height = image.height;
  }
  img.loading = 'lazy';
  if (state !== 'rejected') pick.append(img);
  const note = reviewNote(image, lang);
  if (note) {
    // Not insertable: the toggle is off, and its description says why.
    pick.disabled = true;
    pick.title = note;
    pick.setAttribute('aria-description', note);
    if (state === 'rejected') pick.textContent = img.alt;
  }
  const tools = document.createElement('div');
  tools.className = 'tools';
  const download = document.createElement('a');
  download.hidden = !image.url;
  // ?download=1 answers with Content-Disposition: attachment, so even from another origin
  // (where `download` is ignored) the browser saves the file instead of leaving the editor.
  download.href = client.downloadUrl(image.url);
  download.download = downloadName(image, index);
  download.rel = 'noopener';
  download.textContent = translate(lang, 'download');
  download.setAttribute('aria-label', `${translate(lang, 'download')} ${img.alt}`);
  tools.append(download);
  if (!results.kind(index) && results.request) {
    const more = translate(lang, 'moreLikeThis');
    tools.append(toolButton('more', more, `${more}: ${img.alt}`, () => actions.moreLikeThis(index), busy));
  }
  const edit = translate(lang, 'edit');
  tools.append(toolButton('edit', edit, `${edit}: ${img.alt}`, () => actions.edit(index), state === 'rejected'));
  item.append(pick);
  if (note) {
    const review = Object.assign(document.createElement('p'), { className: `review ${state}`, textContent: note });
    review.setAttribute('role', 'status');
    item.append(review);
  }
  const kindNote = editNote(results, index, lang);
  if (kindNote) {
    const badge = Object.assign(document.createElement('p'), { className: 'badge', textContent: kindNote });
    badge.setAttribute('aria-hidden', 'true'); // already part of the image's name
    item.append(badge);
  }
  item.append(tools);
  return item;
}

/** Redraw the grid for the ResultSet `results` (its chosen images pressed). */
export function renderResults(grid, results, lang, client, actions, busy = false) {
  const items = results.entries.map((_entry, index) => resultItem(results, index, lang, client, actions, busy));
  grid.replaceChildren(...items);
  grid.dataset.count = String(results.size);
}

/** While a task runs, "More like this" would start a second one: disable it. */
export function setGridBusy(grid, busy) {
  for (const button of grid.querySelectorAll('button.more')) button.disabled = busy;
}

/** The huajia-insert detail for the chosen images (absolute URLs, the same alt text for each). */
export function insertDetail(results, client, alt, caption) {
  const images = results.chosen().map((image) => imageDetail(image, client, alt));
  return { images, prompt: results.request?.prompt || '', caption };
}

/** The huajia-replace detail: the one chosen image that takes the edited image's place. */
export function replaceDetail(results, client, alt, source) {
  const [image] = results.chosen();
  return { image: imageDetail(image, client, alt), alt, source };
}

function imageDetail(image, client, alt) {
  return { id: image.id, url: client.assetUrl(image.url), width: image.width, height: image.height, alt, seed: image.seed };
}
