// Where an edit starts: an image the service knows (by id, e.g. one Huajia inserted into an
// article) or any other picture of the article, whose bytes are read in the browser (same
// origin, or CORS permitting) and uploaded; failing that the service is asked to fetch it.
import { ApiError } from './client.js';

/**
 * The source as an ImageOut-like object ({id, url, width, height, ...}).
 * `source` is {id?, url, width?, height?}: an id is used as it is; without one, `url` is uploaded.
 */
export async function resolveSource(client, source) {
  if (source.id) {
    const known = Number(source.width) > 0 && Number(source.height) > 0;
    const size = known ? { width: Number(source.width), height: Number(source.height) }
      : await naturalSize(client.assetUrl(source.url));
    return { seed: null, parent_id: null, thumbnail_url: null, ...source, ...size };
  }
  if (!source.url) throw new ApiError(0, 'source_unreadable', 'no image to edit');
  return uploadFrom(client, source.url);
}

async function uploadFrom(client, url) {
  let blob;
  try {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    blob = await response.blob();
  } catch (err) {
    if (!/^https?:/.test(url)) throw new ApiError(0, 'source_unreadable', err.message || String(err));
    return client.uploadFromUrl(url).catch((serverErr) => {
      throw new ApiError(0, 'source_unreadable', `${err.message || err}; ${serverErr.message}`);
    });
  }
  return client.upload(blob, fileName(url, blob.type));
}

function fileName(url, type) {
  const last = /^https?:/.test(url) ? new URL(url).pathname.split('/').pop() : '';
  if (last && /\.(png|jpe?g|webp)$/i.test(last)) return last;
  return `image.${{ 'image/jpeg': 'jpg', 'image/webp': 'webp' }[type] || 'png'}`;
}

/** The pixel size of the image at `url` (readable without CORS). */
export async function naturalSize(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  return { width: img.naturalWidth, height: img.naturalHeight };
}
