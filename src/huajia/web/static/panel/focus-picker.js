// The focus point of "Crop to a slot": a marker over the image, placed by a click or a tap,
// dragged with any pointer, or moved with the arrow keys. `value` is null while the service
// is left to choose (its content-aware default), else {x, y} as fractions of the image.

const KEY_STEP = 0.02;

export class FocusPicker {
  #stage;
  #marker;
  #dragging = null;
  active = false;
  value = null;
  /** Called whenever the point moves or is given back to the service. */
  onChange = () => {};

  constructor(stage, marker) {
    this.#stage = stage;
    this.#marker = marker;
    stage.addEventListener('pointerdown', (event) => this.#down(event));
    stage.addEventListener('pointermove', (event) => this.#move(event));
    for (const type of ['pointerup', 'pointercancel']) {
      stage.addEventListener(type, (event) => { if (this.#dragging === event.pointerId) this.#dragging = null; });
    }
    marker.addEventListener('keydown', (event) => this.#key(event));
  }

  /** Place the point (fractions of the image), showing the marker. */
  set(point) {
    const clamp = (value) => Math.min(1, Math.max(0, value));
    this.value = { x: clamp(point.x), y: clamp(point.y) };
    this.#render();
    this.onChange();
  }

  /** Leave the focus to the service: no marker. */
  clear() {
    this.value = null;
    this.#render();
    this.onChange();
  }

  show(active) {
    this.active = active;
    this.#render();
  }

  focusMarker() {
    this.#marker.focus();
  }

  #fraction(event) {
    const rect = this.#stage.getBoundingClientRect();
    return { x: (event.clientX - rect.left) / rect.width, y: (event.clientY - rect.top) / rect.height };
  }

  #down(event) {
    if (!this.active || (event.pointerType === 'mouse' && event.button !== 0)) return;
    event.preventDefault();
    try {
      this.#stage.setPointerCapture(event.pointerId);
    } catch {
      // Not a pointer the browser tracks: the drag still follows its events.
    }
    this.#dragging = event.pointerId;
    this.set(this.#fraction(event));
    this.#marker.focus({ preventScroll: true });
  }

  #move(event) {
    if (this.active && this.#dragging === event.pointerId) this.set(this.#fraction(event));
  }

  #key(event) {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (!moves[event.key] || !this.value) return;
    event.preventDefault();
    const [dx, dy] = moves[event.key];
    this.set({ x: this.value.x + dx * KEY_STEP, y: this.value.y + dy * KEY_STEP });
  }

  #render() {
    const shown = this.active && this.value !== null;
    this.#marker.hidden = !shown;
    if (!shown) return;
    this.#marker.style.left = `${this.value.x * 100}%`;
    this.#marker.style.top = `${this.value.y * 100}%`;
  }
}
