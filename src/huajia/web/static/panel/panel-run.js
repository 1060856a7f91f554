// One run of the panel, from the click (the request still being sent) to the task's end.
// It owns the network side: the POST with its Idempotency-Key, the cancel call, the abort signal.
import { newIdempotencyKey } from './client.js';

export class TaskRun {
  constructor(request) {
    this.request = request;
    this.id = null;
    this.controller = new AbortController();
    this.cancelRequested = false;
    this.cancelSent = false;
    this.paused = false;
    this.accepted = null;
  }

  get signal() { return this.controller.signal; }

  /**
   * POST /generate with one Idempotency-Key for this user action. `retryClient(err)` may
   * answer another client to try once more with (a saved key after a 401), same key.
   */
  submit(client, retryClient) {
    const idempotencyKey = newIdempotencyKey();
    const send = (c) => c.generate(this.request, { idempotencyKey, signal: this.signal });
    this.accepted = send(client).catch((err) => {
      const other = this.signal.aborted ? null : retryClient(err);
      if (!other) throw err;
      return send(other);
    }).then((accepted) => {
      this.id = accepted.task_id;
      return accepted;
    });
    return this.accepted;
  }

  /** Wait until the service has the task (true) or refused it (false). */
  async settled() {
    if (this.id !== null) return true;
    try {
      await this.accepted;
      return true;
    } catch {
      return false;
    }
  }

  /** Ask the service to cancel, once; rejects with the service's error (then may be retried). */
  async sendCancel(client) {
    if (this.cancelSent || this.id === null) return;
    this.cancelSent = true;
    try {
      await client.cancel(this.id);
    } catch (err) {
      this.cancelSent = false;
      throw err;
    }
  }

  /** A fresh signal to follow the task again (after a key was saved, or the element came back). */
  restart() {
    this.paused = false;
    this.controller = new AbortController();
  }

  abort() {
    this.controller.abort();
  }
}
