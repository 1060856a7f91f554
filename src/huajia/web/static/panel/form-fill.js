// "Use these settings": an image's parameters (as GET /api/v1/images/{id} returns them) put
// back into the generate form, so the editor can make it again or vary it.
import { CUSTOM, showCustomSize } from './panel-form.js';
import { COUNTS } from './panel-template.js';

/** Fill `form` from `parameters`; sizes known to the catalog are chosen by name. */
export function applySettings(form, customRow, catalog, parameters) {
  const fields = form.elements;
  const p = parameters || {};
  fields.prompt.value = p.prompt || '';
  const style = p.style_preset || '';
  fields.style.value = [...fields.style.options].some((o) => o.value === style) ? style : '';
  if (COUNTS.includes(p.num_images)) fields.count.value = String(p.num_images);
  const size = (catalog.sizes || []).find((s) => s.width === p.width && s.height === p.height);
  if (size) fields.size.value = size.name;
  else if (p.width && p.height) {
    fields.size.value = CUSTOM;
    fields.width.value = p.width;
    fields.height.value = p.height;
  }
  fields.seed.value = p.seed ?? '';
  fields.steps.value = p.steps ?? '';
  fields.negative.value = p.negative_prompt || '';
  const advanced = form.querySelector('details.advanced');
  if (advanced && (p.seed != null || p.steps || p.negative_prompt)) advanced.open = true;
  showCustomSize(form, customRow);
}
