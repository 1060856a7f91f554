// The generate form: choices from the service's catalog, the remembered preferences, and the
// API request the form describes. Pure functions over the form's elements.
import { pickLabel, translate } from './i18n.js';
import { COUNTS } from './panel-template.js';
import { selectModel } from './model-picker.js';
import { loadPrefs, savePrefs } from './prefs.js';

export const CUSTOM = 'custom';

/** Style and size options in `lang`, keeping the current choices. */
export function fillChoices(form, customRow, catalog, lang) {
  const { presets, sizes, model } = catalog;
  const fields = form.elements;
  const keepStyle = fields.style.value;
  const keepSize = fields.size.value;
  fields.style.replaceChildren(new Option(translate(lang, 'styleNone'), ''),
    ...presets.map((p) => new Option(pickLabel(p.labels, lang, p.name), p.name)));
  fields.size.replaceChildren(...sizes.map((s) =>
    new Option(`${pickLabel(s.labels, lang, s.name)} (${s.width}×${s.height})`, s.name)),
  new Option(translate(lang, 'sizeCustom'), CUSTOM));
  if (keepStyle) fields.style.value = keepStyle;
  if (keepSize) fields.size.value = keepSize;
  if (fields.size.selectedIndex < 0) fields.size.selectedIndex = 0; // not offered for this model
  if (model) applyLimits(fields, model);
  showCustomSize(form, customRow);
}

function applyLimits(fields, model) {
  const { limits, defaults } = model;
  for (const name of ['width', 'height']) {
    Object.assign(fields[name], { min: limits.min_size, max: limits.max_size, step: limits.size_multiple });
    // Empty, or still the default filled in for the model chosen before: this model's default.
    if (!fields[name].value || fields[name].value === fields[name].dataset.filled) {
      fields[name].value = defaults[name];
      fields[name].dataset.filled = String(defaults[name]);
    }
  }
  fields.steps.max = limits.max_steps;
  fields.steps.placeholder = String(defaults.steps);
  fields.negative.placeholder = defaults.negative_prompt || '';
}

export function showCustomSize(form, customRow) {
  const custom = form.elements.size.value === CUSTOM;
  customRow.hidden = !custom;
  for (const name of ['width', 'height']) form.elements[name].required = custom;
}

/** Put the remembered choices back: the service's copy (it follows the editor to any browser)
 * over this browser's. The model first (the caller then re-fills the form for it). */
export function restorePrefs(form, customRow, serverPrefs = null) {
  const prefs = { ...loadPrefs(), ...(serverPrefs || {}) };
  const fields = form.elements;
  selectModel(form, prefs.model);
  if (prefs.style !== undefined && [...fields.style.options].some((o) => o.value === prefs.style)) {
    fields.style.value = prefs.style;
  }
  if (prefs.size && [...fields.size.options].some((o) => o.value === prefs.size)) fields.size.value = prefs.size;
  if (prefs.size === CUSTOM && prefs.width && prefs.height) {
    fields.width.value = prefs.width;
    fields.height.value = prefs.height;
  }
  if (COUNTS.includes(prefs.count)) fields.count.value = String(prefs.count);
  showCustomSize(form, customRow);
}

export function rememberPrefs(form, request, client = null) {
  const size = form.elements.size.value;
  const prefs = { style: request.style_preset || '', count: request.num_images, size,
    width: request.width, height: request.height, model: request.model };
  savePrefs(prefs);
  if (!client) return;
  const remote = { style: prefs.style || null, size, count: prefs.count };
  if (request.model) remote.model = request.model;
  if (size === CUSTOM) Object.assign(remote, { width: prefs.width, height: prefs.height });
  // Remembering is a convenience: a service that cannot keep them loses nothing else.
  client.savePrefs(remote).catch(() => {});
}

/** The API request the form describes; empty advanced fields take the model's defaults; the
 * model is named when the service offers a choice. */
export function readForm(form, catalog) {
  const fields = form.elements;
  const request = { prompt: fields.prompt.value.trim(), num_images: Number(fields.count.value) };
  if (catalog.picking && fields.model.value) request.model = fields.model.value;
  if (fields.style.value) request.style_preset = fields.style.value;
  const size = catalog.sizes.find((s) => s.name === fields.size.value);
  const custom = fields.size.value === CUSTOM;
  if (size || custom) {
    request.width = custom ? Number(fields.width.value) : size.width;
    request.height = custom ? Number(fields.height.value) : size.height;
  }
  if (fields.seed.value !== '') request.seed = Number(fields.seed.value);
  if (fields.steps.value !== '') request.steps = Number(fields.steps.value);
  if (fields.negative.value.trim()) request.negative_prompt = fields.negative.value.trim();
  return request;
}
