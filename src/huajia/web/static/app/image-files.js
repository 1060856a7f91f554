// Files fetched with the API key and saved by the browser: converted downloads and zips.
// (The routes need the key, so a plain <a href download> cannot reach them.)

/** Save `blob` as `filename` without leaving the page. */
export function saveBlob(blob, filename) {
  const href = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

function filenameOf(response, fallback) {
  const match = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '');
  return match ? match[1] : fallback;
}

async function fetched(client, path, init = {}) {
  const response = await fetch(client.url(path), {
    ...init, headers: client.headers({ Accept: '*/*', ...(init.headers || {}) }), cache: 'no-store',
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error?.message || `HTTP ${response.status}`);
  }
  return response;
}

/** Download image `id` as `format` ('' = as stored), fitted to the size preset `size` ('' = none). */
export async function downloadImage(client, id, format = '', size = '') {
  const query = new URLSearchParams();
  if (format) query.set('format', format);
  if (size) query.set('size', size);
  const response = await fetched(client, `/api/v1/images/${id}/download?${query}`);
  saveBlob(await response.blob(), filenameOf(response, `huajia-${id}.${format || 'png'}`));
}

/** Download the images `ids` as one zip. */
export async function downloadZip(client, ids) {
  const response = await fetched(client, '/api/v1/images/zip', {
    method: 'POST', body: JSON.stringify({ ids }), headers: { 'Content-Type': 'application/json' },
  });
  saveBlob(await response.blob(), filenameOf(response, 'huajia-images.zip'));
}

/** An object URL for an image the caller may see but that has no public address yet. */
export async function privateImageUrl(client, image, thumbnail = false) {
  const path = thumbnail ? `${image.preview_url}?thumbnail=true` : image.preview_url;
  const response = await fetched(client, path, { headers: { Accept: 'image/*' } });
  return URL.createObjectURL(await response.blob());
}
