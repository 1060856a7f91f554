// Images that wait for a reviewer: their previews (fetched with the API key, shown from object
// URLs, since an <img> cannot send the key) and the task event streams that bring each decision.
import { readServerEvents } from './client.js';

/** True while a reviewer has still to decide on `image`. */
export function awaitsReview(image) {
  return image?.review?.state === 'pending_review';
}

/** Only a published image (no review needed, or approved) has a URL an article may use. */
export function insertable(image) {
  return Boolean(image?.url);
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

export class ReviewWatch {
  /** taskId -> AbortController of the stream that waits for that task's decisions. */
  #streams = new Map();
  /** imageId -> Promise of an object URL for the image's small preview. */
  #previews = new Map();
  #onDecision;

  /** `onDecision(image)` gets each image a reviewer approved or rejected (an ImageOut). */
  constructor(onDecision) {
    this.#onDecision = onDecision;
  }

  /** Listen to `taskId`'s events until none of `images` waits for review any more. */
  follow(client, taskId, images) {
    const pending = new Set(images.filter(awaitsReview).map((image) => image.id));
    if (!taskId || !pending.size || this.#streams.has(taskId)) return;
    const controller = new AbortController();
    this.#streams.set(taskId, controller);
    this.#listen(client, taskId, pending, controller.signal).finally(() => {
      if (this.#streams.get(taskId) === controller) this.#streams.delete(taskId);
    });
  }

  /** A new generation replaced the grid: stop listening and free every preview. */
  reset() {
    for (const controller of this.#streams.values()) controller.abort();
    this.#streams.clear();
    for (const id of [...this.#previews.keys()]) this.forget(id);
  }

  /** Set `img.src` to the preview of a waiting image (fetched once, with the API key). */
  showPreview(client, image, img) {
    if (!image.preview_url) return;
    let preview = this.#previews.get(image.id);
    if (!preview) {
      const url = new URL(client.url(image.preview_url));
      url.searchParams.set('thumbnail', 'true');
      preview = fetch(url.href, { headers: client.headers({ Accept: 'image/*' }), cache: 'no-store' })
        .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(`HTTP ${response.status}`))))
        .then((blob) => URL.createObjectURL(blob));
      preview.catch(() => this.#previews.delete(image.id));
      this.#previews.set(image.id, preview);
    }
    preview.then((src) => { img.src = src; }, () => {});
  }

  /** Free the preview of an image that was decided on. */
  forget(id) {
    const preview = this.#previews.get(id);
    this.#previews.delete(id);
    preview?.then((src) => URL.revokeObjectURL(src), () => {});
  }

  async #listen(client, taskId, pending, signal) {
    let delay = 1000;
    while (pending.size && !signal.aborted) {
      try {
        const response = await fetch(client.url(`/api/v1/tasks/${encodeURIComponent(taskId)}/events`), {
          headers: client.headers({ Accept: 'text/event-stream' }), signal, cache: 'no-store',
        });
        // The task is gone or the key no longer sees it: nothing more will come.
        if (response.status >= 400 && response.status < 500 && response.status !== 429) return;
        if (response.ok) {
          for await (const message of readServerEvents(response.body)) {
            this.#take(message, pending);
            if (!pending.size) return;
            delay = 1000;
          }
        }
      } catch {
        if (signal.aborted) return;
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 15000);
    }
  }

  /** A `review` event, or (after a reconnect) the `completed` event with today's states. */
  #take(message, pending) {
    if (message.event !== 'review' && message.event !== 'completed') return;
    const data = message.data ? JSON.parse(message.data) : {};
    const images = message.event === 'review' ? [data.image] : data.images || [];
    for (const image of images) {
      if (!image || !pending.has(image.id) || awaitsReview(image)) continue;
      pending.delete(image.id);
      this.forget(image.id);
      this.#onDecision(image);
    }
  }
}
