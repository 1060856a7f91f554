// The mask brush for "Edit an area": paint over what the model should redraw. Mouse, pen and
// touch all arrive as pointer events; the keyboard moves a brush ring and Space paints.
// Strokes are kept in the image's own pixels (the canvas is as large as the image and only
// displayed smaller), so the exported mask is exactly the image's size, and undo is simply
// "drop the last stroke, redraw the rest".

const SHOWN = '#ff2d78'; // painted strokes as displayed; the canvas is translucent over the image
const KEY_STEP = 0.03; // arrow keys move the brush 3% of the image

export class MaskCanvas {
  #canvas;
  #ring;
  #strokes = [];
  #current = null;
  #cursor = { x: 0.5, y: 0.5 };
  brushSize = 32; // CSS pixels on screen
  erasing = false;
  /** Called after every finished stroke, undo and clear. */
  onChange = () => {};

  constructor(canvas, ring) {
    this.#canvas = canvas;
    this.#ring = ring;
    canvas.addEventListener('pointerdown', (event) => this.#down(event));
    canvas.addEventListener('pointermove', (event) => this.#move(event));
    for (const type of ['pointerup', 'pointercancel']) canvas.addEventListener(type, (event) => this.#up(event));
    canvas.addEventListener('pointerleave', () => { if (!this.#current) this.#ring.hidden = true; });
    canvas.addEventListener('keydown', (event) => this.#key(event));
    canvas.addEventListener('keyup', (event) => event.key === ' ' && this.#finish());
    canvas.addEventListener('focus', () => this.#showRing(this.#cursor));
    canvas.addEventListener('blur', () => { this.#finish(); this.#ring.hidden = true; });
  }

  /** A fresh, empty mask for an image of this size. */
  reset(width, height) {
    Object.assign(this.#canvas, { width, height });
    this.#strokes = [];
    this.#current = null;
    this.#redraw();
  }

  get strokeCount() { return this.#strokes.length; }
  /** True while nothing is marked for repainting (no strokes, or only eraser strokes). */
  get isEmpty() { return !this.#strokes.some((stroke) => !stroke.erase); }

  undo() {
    this.#current = null;
    this.#strokes.pop();
    this.#redraw();
    this.onChange();
  }

  clear() {
    this.#current = null;
    this.#strokes = [];
    this.#redraw();
    this.onChange();
  }

  /** The mask as the API wants it: a PNG the image's size, white where to repaint, black elsewhere. */
  toBlob() {
    const out = document.createElement('canvas');
    Object.assign(out, { width: this.#canvas.width, height: this.#canvas.height });
    const ctx = out.getContext('2d');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, out.width, out.height);
    for (const stroke of this.#strokes) paint(ctx, stroke, stroke.erase ? '#000' : '#fff', 'source-over');
    return new Promise((resolve, reject) => out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('mask export failed'))), 'image/png'));
  }

  /** Image pixels per CSS pixel of the canvas as it is displayed now. */
  #scale() {
    const rect = this.#canvas.getBoundingClientRect();
    return rect.width ? this.#canvas.width / rect.width : 1;
  }

  #fraction(event) {
    const rect = this.#canvas.getBoundingClientRect();
    return { x: (event.clientX - rect.left) / rect.width, y: (event.clientY - rect.top) / rect.height };
  }

  #start(at, pointerId = null) {
    this.#current = { erase: this.erasing, size: this.brushSize * this.#scale(), points: [], pointerId };
    this.#strokes.push(this.#current);
    this.#extend(at);
  }

  #extend({ x, y }) {
    const stroke = this.#current;
    stroke.points.push([x * this.#canvas.width, y * this.#canvas.height]);
    drawTail(this.#canvas.getContext('2d'), stroke);
  }

  #finish() {
    if (!this.#current) return;
    this.#current = null;
    this.onChange();
  }

  #down(event) {
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    event.preventDefault();
    try {
      this.#canvas.setPointerCapture(event.pointerId);
    } catch {
      // A pointer the browser no longer tracks: the stroke still follows its events.
    }
    this.#start(this.#fraction(event), event.pointerId);
    this.#showRing(this.#fraction(event));
  }

  #move(event) {
    this.#showRing(this.#fraction(event));
    if (this.#current?.pointerId !== event.pointerId) return;
    const events = event.getCoalescedEvents?.() || [];
    for (const each of events.length ? events : [event]) this.#extend(this.#fraction(each));
  }

  #up(event) {
    if (this.#current?.pointerId === event.pointerId) this.#finish();
  }

  #key(event) {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key === ' ') {
      event.preventDefault();
      if (!this.#current) this.#start(this.#cursor);
    } else if (moves[event.key]) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      const clamp = (value) => Math.min(1, Math.max(0, value));
      this.#cursor = { x: clamp(this.#cursor.x + dx * KEY_STEP), y: clamp(this.#cursor.y + dy * KEY_STEP) };
      if (this.#current) this.#extend(this.#cursor);
      this.#showRing(this.#cursor);
    }
  }

  #showRing({ x, y }) {
    const size = `${this.brushSize}px`;
    Object.assign(this.#ring.style, { left: `${x * 100}%`, top: `${y * 100}%`, width: size, height: size });
    this.#ring.hidden = false;
  }

  #redraw() {
    const ctx = this.#canvas.getContext('2d');
    ctx.clearRect(0, 0, this.#canvas.width, this.#canvas.height);
    for (const stroke of this.#strokes) {
      paint(ctx, stroke, SHOWN, stroke.erase ? 'destination-out' : 'source-over');
    }
  }
}

function paint(ctx, stroke, colour, composite, from = 0) {
  ctx.save();
  Object.assign(ctx, { globalCompositeOperation: composite, strokeStyle: colour, fillStyle: colour,
    lineWidth: stroke.size, lineCap: 'round', lineJoin: 'round' });
  const { points } = stroke;
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(points[0][0], points[0][1], stroke.size / 2, 0, Math.PI * 2);
    ctx.fill();
  } else {
    ctx.beginPath();
    ctx.moveTo(...points[Math.max(0, from - 1)]);
    for (const point of points.slice(Math.max(1, from))) ctx.lineTo(...point);
    ctx.stroke();
  }
  ctx.restore();
}

/** Draw what the newest point added to the stroke on the displayed canvas. */
function drawTail(ctx, stroke) {
  const composite = stroke.erase ? 'destination-out' : 'source-over';
  paint(ctx, stroke, SHOWN, composite, Math.max(0, stroke.points.length - 1));
}
