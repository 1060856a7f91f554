// The Huajia HTTP API as the panel and the web app use it, plus task following over SSE.
// EventSource cannot send an API key header, so the stream is read with fetch().

const TERMINAL = new Set(['completed', 'failed', 'canceled']);

/** An error answer from the service: status 0 means the network failed. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class HuajiaClient {
  constructor(endpoint, apiKey = '') {
    const base = endpoint || globalThis.location?.origin || '';
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.apiKey = apiKey || '';
  }

  url(path) {
    return new URL(String(path).replace(/^\//, ''), this.base).href;
  }

  /** Image URLs come absolute-path; an embedding page on another origin needs the endpoint. */
  assetUrl(path) {
    return path ? this.url(path) : '';
  }

  /**
   * The same image served with `Content-Disposition: attachment`: browsers ignore `download`
   * on cross-origin links and would navigate the editor page away; this URL always saves.
   */
  downloadUrl(path) {
    if (!path) return '';
    const url = new URL(this.url(path));
    url.searchParams.set('download', '1');
    return url.href;
  }

  headers(extra = {}) {
    const headers = { Accept: 'application/json', ...extra };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    return headers;
  }

  async request(method, path, body, signal, extraHeaders = {}) {
    const init = { method, headers: this.headers(extraHeaders), signal };
    if (body instanceof FormData) {
      init.body = body; // the browser writes the multipart Content-Type with its boundary
    } else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.url(path), init);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(0, 'network', err.message || 'network error');
    }
    if (!response.ok) throw await errorFrom(response);
    return response.status === 204 ? null : response.json();
  }

  models() { return this.request('GET', '/api/v1/models'); }
  presets() { return this.request('GET', '/api/v1/presets'); }
  /** One user action, one key: a repeated submission returns the same task, never a second. */
  generate(body, { idempotencyKey = newIdempotencyKey(), signal } = {}) {
    return this.request('POST', '/api/v1/generate', body, signal, { 'Idempotency-Key': idempotencyKey });
  }
  status(id, signal) { return this.request('GET', `/api/v1/tasks/${enc(id)}/status`, undefined, signal); }
  result(id, signal) { return this.request('GET', `/api/v1/tasks/${enc(id)}/result`, undefined, signal); }
  cancel(id) { return this.request('POST', `/api/v1/tasks/${enc(id)}/cancel`); }

  /** Keep an image to edit (a PNG, JPEG or WebP blob: a mask, a picture from the article). */
  upload(blob, filename = 'image.png') {
    const form = new FormData();
    form.append('file', blob, filename);
    return this.request('POST', '/api/v1/uploads', form);
  }

  /** Ask the service to fetch an image from a host its operator allows, to edit it. */
  uploadFromUrl(url) { return this.request('POST', '/api/v1/uploads/from-url', { url }); }

  /** Plain edits (crop, colours, text), applied in order: the new image, answered at once. */
  editImage(imageId, edits, outputFormat = 'png') {
    return this.request('POST', `/api/v1/images/${enc(imageId)}/edits`, { edits, output_format: outputFormat });
  }

  images(query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== '' && value !== null && value !== undefined && value !== false) {
        params.set(key, String(value));
      }
    }
    return this.request('GET', `/api/v1/images?${params}`);
  }

  /** The caller's panel preferences, kept by the service (they follow the editor). */
  prefs() { return this.request('GET', '/api/v1/me/prefs'); }
  savePrefs(prefs) { return this.request('PUT', '/api/v1/me/prefs', prefs); }
  /** The caller's distinct past prompts, newest first; `q` searches them. */
  history(q = '') {
    const params = new URLSearchParams({ limit: '20' });
    if (q) params.set('q', q);
    return this.request('GET', `/api/v1/me/history?${params}`);
  }

  setFavourite(imageId, favourite) {
    return this.request('POST', `/api/v1/images/${enc(imageId)}/favourite`, { favourite });
  }
}

/** A fresh random key; crypto.randomUUID() exists only in secure contexts (https, localhost). */
export function newIdempotencyKey() {
  const cryptoApi = globalThis.crypto;
  if (typeof cryptoApi?.randomUUID === 'function') return cryptoApi.randomUUID();
  const bytes = cryptoApi.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function enc(value) {
  return encodeURIComponent(value);
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body?.error) ({ code = code, message = message } = body.error);
    else if (typeof body?.detail === 'string') message = body.detail;
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  const retry = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  return new ApiError(response.status, code, message, Number.isFinite(retry) ? retry : null);
}

/** Split a text/event-stream body into {event, data} records (keep-alive comments skipped). */
export async function* readServerEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { name: 'message', data: [], id: null };
  // The caller may stop early (the task ended, or it only wanted one event): close the stream
  // then, or the server would keep it open (and count it) while images wait for review.
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (event.data.length) yield { event: event.name, data: event.data.join('\n'), id: event.id };
          event = { name: 'message', data: [], id: null };
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event.name = text;
          else if (field === 'data') event.data.push(text);
          else if (field === 'id') event.id = text;
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

/**
 * Follow a task to its end: SSE first, reconnecting when the stream drops and polling
 * /status in between; never gives up on its own (only `signal` stops it). With an
 * `on.preview` handler the stream asks for live previews (`?previews=true`).
 * Resolves to {state: 'completed', result} | {state: 'failed', error} | {state: 'canceled'}.
 */
export async function followTask(client, taskId, on, signal) {
  let delay = 500;
  let streaming = true;
  // The last progress event's id: a reconnect (to whichever API process answers) resumes
  // after it, so no step is shown twice or skipped.
  const seen = { lastId: null };
  for (;;) {
    if (streaming) {
      try {
        const end = await streamOnce(client, taskId, on, signal, () => { delay = 500; }, seen);
        if (end) return end;
      } catch (err) {
        if (signal.aborted) throw err;
        // A service without the events route answers 404/405: poll from now on.
        if (err instanceof ApiError && (err.status === 404 || err.status === 405)) streaming = false;
        else if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) throw err;
      }
      on.connection?.('lost');
    }
    const end = await pollOnce(client, taskId, on, signal);
    if (end) return end;
    await sleep(streaming ? delay : 1000, signal);
    delay = Math.min(delay * 2, 8000);
  }
}

async function streamOnce(client, taskId, on, signal, onAlive, seen) {
  const extra = seen.lastId ? { 'Last-Event-ID': seen.lastId } : {};
  const query = on.preview ? '?previews=true' : '';
  const response = await fetch(client.url(`/api/v1/tasks/${enc(taskId)}/events${query}`), {
    headers: client.headers({ Accept: 'text/event-stream', ...extra }),
    signal,
    cache: 'no-store',
  });
  if (!response.ok) throw await errorFrom(response);
  on.connection?.('open');
  for await (const message of readServerEvents(response.body)) {
    onAlive();
    if (message.id) seen.lastId = message.id;
    const data = message.data ? JSON.parse(message.data) : {};
    const end = await handleEvent(client, taskId, message.event, data, on, signal);
    if (end) return end;
  }
  return null;
}

async function handleEvent(client, taskId, name, data, on, signal) {
  switch (name) {
    case 'status':
      on.status?.(data);
      return TERMINAL.has(data.status) ? terminalFromStatus(client, taskId, data, signal) : null;
    case 'queued': on.queued?.(data); return null;
    case 'progress': on.progress?.(data); return null;
    case 'preview': on.preview?.(data); return null;
    case 'completed': return { state: 'completed', result: data };
    case 'failed': return { state: 'failed', error: data.error || data };
    case 'canceled': return { state: 'canceled' };
    default: return null;
  }
}

async function pollOnce(client, taskId, on, signal) {
  try {
    const status = await client.status(taskId, signal);
    on.status?.(status);
    return TERMINAL.has(status.status) ? await terminalFromStatus(client, taskId, status, signal) : null;
  } catch (err) {
    if (signal.aborted || (err instanceof ApiError && [401, 403, 404].includes(err.status))) throw err;
    return null;
  }
}

async function terminalFromStatus(client, taskId, status, signal) {
  if (status.status === 'completed') return { state: 'completed', result: await client.result(taskId, signal) };
  if (status.status === 'failed') return { state: 'failed', error: status.error || { code: 'failed', message: status.message } };
  return { state: 'canceled' };
}
