// The model picker: shown only when the service serves more than one model. Each model brings
// its own form (defaults, limits, CMS size presets scaled to it), so choosing one re-fills the
// size choices and the limits of the custom size and steps fields.
import { translate } from './i18n.js';

/** The models to offer (as GET /api/v1/models lists them, the default first); the picker hides
 * itself when there is nothing to choose. */
export function fillModels(form, field, listing) {
  const models = listing?.models || [];
  const select = form.elements.model;
  const keep = select.value;
  select.replaceChildren(...models.map((m) => new Option(m.name, m.name)));
  const known = (name) => models.some((m) => m.name === name);
  select.value = known(keep) ? keep : known(listing?.default) ? listing.default : (models[0]?.name ?? '');
  field.hidden = models.length < 2;
}

/** The model the form asks for, from the models listed (null before they arrived). */
export function chosenModel(form, models) {
  const name = form.elements.model.value;
  return models.find((m) => m.name === name) || models[0] || null;
}

/** Choose `name` when the service serves it (a remembered choice, an image's settings). */
export function selectModel(form, name) {
  const select = form.elements.model;
  if (!name || ![...select.options].some((o) => o.value === name)) return false;
  select.value = name;
  return true;
}

/** Whether requests name the model: only when there is a choice (one model: as before). */
export function picking(field) {
  return !field.hidden;
}

/** "Sizes 64–1024 px · up to 50 steps · default 256×256, 4 steps" in `lang`. */
export function limitsText(model, lang) {
  if (!model) return '';
  const { limits, defaults } = model;
  return translate(lang, 'modelLimits', {
    min: limits.min_size, max: limits.max_size, steps: limits.max_steps,
    width: defaults.width, height: defaults.height, defaultSteps: defaults.steps,
  });
}
