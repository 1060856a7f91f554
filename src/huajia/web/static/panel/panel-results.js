// The result grid: each image is a toggle button (aria-pressed) with download and "more like this".
import { translate } from './i18n.js';

const ALT_MAX = 150;

/** Alt text suggested from the prompt: one line, cut at a word boundary. */
export function altFromPrompt(prompt) {
  const line = String(prompt || '').replace(/\s+/g, ' ').trim();
  if (line.length <= ALT_MAX) return line;
  const cut = line.slice(0, ALT_MAX);
  const space = cut.lastIndexOf(' ');
  return `${(space > ALT_MAX / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

function downloadName(image, index) {
  const ext = image.format || (image.url || '').split('.').pop() || 'png';
  return `huajia-${image.seed ?? index + 1}.${ext}`;
}

function resultItem(image, index, selected, lang, client, actions, busy) {
  const item = document.createElement('li');
  item.className = 'result';
  const pick = document.createElement('button');
  pick.type = 'button';
  pick.className = 'pick';
  pick.setAttribute('aria-pressed', String(selected));
  pick.addEventListener('click', () => actions.toggle(index));
  const img = document.createElement('img');
  img.src = client.assetUrl(image.thumbnail_url || image.url);
  img.alt = translate(lang, 'imageName', { index: index + 1, seed: image.seed ?? '?' });
  if (image.width && image.height) {
    img.width = image.width;
    img.height = image.height;
  }
  img.loading = 'lazy';
  pick.append(img);
  const tools = document.createElement('div');
  tools.className = 'tools';
  const download = document.createElement('a');
  // ?download=1 answers with Content-Disposition: attachment, so even from another origin
  // (where `download` is ignored) the browser saves the file instead of leaving the editor.
  download.href = client.downloadUrl(image.url);
  download.download = downloadName(image, index);
  download.rel = 'noopener';
  download.textContent = translate(lang, 'download');
  download.setAttribute('aria-label', `${translate(lang, 'download')} ${img.alt}`);
  const more = document.createElement('button');
  more.type = 'button';
  more.className = 'more';
  more.disabled = busy;
  more.textContent = translate(lang, 'moreLikeThis');
  more.setAttribute('aria-label', `${translate(lang, 'moreLikeThis')}: ${img.alt}`);
  more.addEventListener('click', () => actions.moreLikeThis(index));
  tools.append(download, more);
  item.append(pick, tools);
  return item;
}

/** Redraw the grid for `images` with the indexes in `selected` pressed. */
export function renderResults(grid, images, selected, lang, client, actions, busy = false) {
  const items = images.map((image, index) =>
    resultItem(image, index, selected.has(index), lang, client, actions, busy));
  grid.replaceChildren(...items);
  grid.dataset.count = String(images.length);
}

/** While a task runs, "More like this" would start a second one: disable it. */
export function setGridBusy(grid, busy) {
  for (const button of grid.querySelectorAll('button.more')) button.disabled = busy;
}

/** The huajia-insert detail for the chosen images (absolute URLs, the same alt text for each). */
export function insertDetail(shown, selected, client, alt, caption) {
  const images = [...selected].sort((a, b) => a - b).map((index) => {
    const image = shown.images[index];
    return { url: client.assetUrl(image.url), width: image.width, height: image.height, alt, seed: image.seed };
  });
  return { images, prompt: shown.request?.prompt || '', caption };
}
