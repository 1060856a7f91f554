// What each edit tool asks of the API, and the sizes it will make: pure functions of the source
// image, the CMS slot and the tool's values, so the panel can show a size before it asks.

/** Tools that run the model (a task with progress); the others are plain edits, answered at once. */
export const MODEL_TOOLS = new Set(['vary', 'area', 'extend', 'upscale']);

const OPERATION = { vary: 'image_to_image', area: 'inpaint', extend: 'outpaint', upscale: 'upscale' };

function ceilTo(value, multiple) {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * The outpaint canvas for `slot`'s aspect that contains the whole image (centred), rounded up to
 * the model's multiple: {width, height}, or {problem: 'same' | 'tooLarge'} when there is none.
 */
export function extendCanvas(image, slot, limits) {
  const aspect = slot.width / slot.height;
  const multiple = limits?.size_multiple || 16;
  let width = image.width;
  let height = image.height;
  if (width / height < aspect) width = height * aspect;
  else height = width / aspect;
  width = Math.max(image.width, ceilTo(Math.round(width), multiple));
  height = Math.max(image.height, ceilTo(Math.round(height), multiple));
  if (width === image.width && height === image.height) return { problem: 'same' };
  if (limits?.max_size && Math.max(width, height) > limits.max_size) return { problem: 'tooLarge' };
  return { width, height };
}

/** Twice the image, as the service rounds it: {width, height} or {problem: 'tooLarge'}. */
export function upscaleSize(image, limits) {
  const multiple = limits?.size_multiple || 16;
  const round = (side) => Math.max(multiple, Math.round((side * 2) / multiple) * multiple);
  const size = { width: round(image.width), height: round(image.height) };
  if (limits?.max_size && Math.max(size.width, size.height) > limits.max_size) return { problem: 'tooLarge' };
  return size;
}

/** The part of the image a slot crop keeps around `focus` ({x, y} fractions), as fractions. */
export function slotBox(image, slot, focus) {
  const aspect = slot.width / slot.height;
  const width = Math.min(image.width, image.height * aspect);
  const height = Math.min(image.height, image.width / aspect);
  const clamp = (value, high) => Math.min(Math.max(value, 0), high);
  const left = clamp(focus.x * image.width - width / 2, image.width - width);
  const top = clamp(focus.y * image.height - height / 2, image.height - height);
  return { left: left / image.width, top: top / image.height,
    width: width / image.width, height: height / image.height };
}

/** A CSS filter close to the service's colour adjustment (warmth through an SVG matrix). */
export function colourFilter({ brightness, contrast, saturation, warmth }, warmthFilterId) {
  const parts = [`brightness(${brightness})`, `contrast(${contrast})`, `saturate(${saturation})`];
  if (warmth && warmthFilterId) parts.push(`url(#${warmthFilterId})`);
  return parts.join(' ');
}

/** The feColorMatrix values for a warmth -1..1: red up and blue down by a fifth at 1. */
export function warmthMatrix(warmth) {
  const red = 1 + 0.2 * warmth;
  const blue = 1 - 0.2 * warmth;
  return `${red} 0 0 0 0  0 1 0 0 0  0 0 ${blue} 0 0  0 0 0 1 0`;
}

/** POST /generate for a model tool; `extra` brings the mask id (area) or the canvas (extend). */
export function modelEditRequest(tool, source, prompt, values, extra = {}) {
  const request = { operation: OPERATION[tool], source_image_id: source.id, prompt, num_images: 1 };
  if (tool === 'vary') request.strength = values.strength;
  if (tool === 'area') request.mask_image_id = extra.maskId;
  if (tool === 'extend') Object.assign(request, { width: extra.width, height: extra.height });
  return request;
}

/** The one plain edit a tool makes, in the API's words. */
export function plainEdit(tool, values, slot) {
  if (tool === 'crop') {
    const edit = { kind: 'crop_to_slot', width: slot.width, height: slot.height };
    if (values.focus) edit.focus = { x: round3(values.focus.x), y: round3(values.focus.y) };
    return edit;
  }
  if (tool === 'adjust') {
    const { brightness, contrast, saturation, warmth } = values;
    return { kind: 'adjust', brightness, contrast, saturation, warmth };
  }
  const edit = { kind: 'text', text: values.text, anchor: values.anchor, size: values.size / 100,
    colour: values.colour, bold: values.bold };
  if (values.shadow) edit.shadow = {};
  return edit;
}

function round3(value) {
  return Math.round(value * 1000) / 1000;
}
