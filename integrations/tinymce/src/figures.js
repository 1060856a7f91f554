// The HTML the plugin inserts: one `<figure class="image">` per chosen image (TinyMCE's image
// plugin reads that shape as a captioned image), the caption under each. DOM-free, so the
// package's node tests check it directly.

const ATTRIBUTE_ESCAPES = { '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' };

function escape(text) {
  return String(text).replace(/[&"<>]/g, (char) => ATTRIBUTE_ESCAPES[char]);
}

/** `<img>` with its URL, alt text (always present, maybe empty), size and Huajia id. */
export function imageHtml(image) {
  const attributes = [['src', image.url], ['alt', image.alt || '']];
  if (image.width && image.height) attributes.push(['width', image.width], ['height', image.height]);
  if (image.id) attributes.push(['data-huajia-image-id', image.id]);
  return `<img ${attributes.map(([name, value]) => `${name}="${escape(value)}"`).join(' ')}>`;
}

/** The figures for a `huajia-insert` detail ({images: [{id, url, width, height, alt}], caption}). */
export function figuresHtml({ images = [], caption = '' } = {}) {
  const text = String(caption || '').trim();
  const figcaption = text ? `<figcaption>${escape(text)}</figcaption>` : '';
  return images
    .filter((image) => image?.url)
    .map((image) => `<figure class="image">${imageHtml(image)}${figcaption}</figure>`)
    .join('');
}
