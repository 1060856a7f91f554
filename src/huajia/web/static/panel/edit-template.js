// The edit section's markup: the tools, the image with its mask canvas and focus marker, and
// one form whose fieldsets belong to tools (data-for); a tool's fieldsets are the only ones
// shown and enabled, so hidden fields never block the form. Texts come from applyTranslations().

export const TOOLS = ['vary', 'area', 'extend', 'upscale', 'crop', 'adjust', 'text'];
export const ANCHORS = ['top-left', 'top', 'top-right', 'left', 'center', 'right', 'bottom-left', 'bottom',
  'bottom-right'];
export const WARMTH_FILTER = 'hj-warmth';

function range(name, label, min, max, step, value) {
  const id = `hj-edit-${name}`;
  return `<div class="field range"><label for="${id}" data-t="${label}"></label>
        <input type="range" id="${id}" name="${name}" min="${min}" max="${max}" step="${step}" value="${value}">
        <output for="${id}" data-out="${name}"></output></div>`;
}

const COLOURS = `
      ${range('brightness', 'brightness', 0.2, 2, 0.05, 1)}
      ${range('contrast', 'contrast', 0.2, 2, 0.05, 1)}
      ${range('saturation', 'saturation', 0, 2, 0.05, 1)}
      ${range('warmth', 'warmth', -1, 1, 0.05, 0)}`;

export function editMarkup() {
  const tools = TOOLS.map((tool) =>
    `<button type="button" data-tool="${tool}" aria-pressed="false" data-t="tool.${tool}"></button>`).join('');
  const anchors = ANCHORS.map((anchor) =>
    `<option value="${anchor}"${anchor === 'bottom' ? ' selected' : ''} data-t="anchor.${anchor}"></option>`).join('');
  return `
  <section class="edit" data-ref="editBox" aria-labelledby="hj-edit" hidden>
    <div class="edit-head">
      <h3 id="hj-edit" data-ref="editHeading" tabindex="-1"></h3>
      <button type="button" data-ref="editClose" data-t="closeEditor"></button>
    </div>
    <div class="edit-tools" role="group" data-t-aria-label="editTools" data-ref="toolButtons">${tools}</div>
    <div class="stage" data-ref="stage">
      <img data-ref="editImage" alt="">
      <canvas class="mask" data-ref="mask" tabindex="0" data-t-aria-label="maskCanvas" hidden></canvas>
      <div class="ring" data-ref="brushRing" hidden></div>
      <div class="crop-frame" data-ref="cropFrame" hidden></div>
      <button type="button" class="focus-point" data-ref="focusPoint" hidden></button>
    </div>
    <svg class="defs" aria-hidden="true" width="0" height="0"><filter id="${WARMTH_FILTER}" color-interpolation-filters="sRGB">
      <feColorMatrix type="matrix" data-ref="warmthMatrix" values="1 0 0 0 0  0 1 0 0 0  0 0 1 0 0  0 0 0 1 0"/></filter></svg>
    <form class="edit-form" data-ref="editForm" novalidate hidden>
      <fieldset data-for="area">
        <p class="hint" data-t="areaHint"></p>
        ${range('brush', 'brushSize', 4, 120, 2, 32)}
        <div class="actions">
          <button type="button" data-ref="erase" aria-pressed="false" data-t="erase"></button>
          <button type="button" data-ref="undoStroke" data-t="undoStroke"></button>
          <button type="button" data-ref="clearMask" data-t="clearMask"></button>
          <span class="note" data-ref="strokeCount" aria-live="polite"></span>
        </div>
      </fieldset>
      <fieldset data-for="vary area extend upscale">
        <label class="field"><span data-t="editPrompt"></span>
          <textarea name="editPrompt" rows="2" required></textarea></label>
      </fieldset>
      <fieldset data-for="vary">${range('strength', 'strength', 0.05, 1, 0.05, 0.6)}</fieldset>
      <fieldset data-for="extend crop">
        <div class="field"><label for="hj-slot" data-t="slot"></label><select id="hj-slot" name="slot"></select></div>
      </fieldset>
      <fieldset data-for="crop" class="focus-choice">
        <legend data-t="focus"></legend>
        <label><input type="radio" name="focusMode" value="auto" checked> <span data-t="focusAuto"></span></label>
        <label><input type="radio" name="focusMode" value="point"> <span data-t="focusPoint"></span></label>
      </fieldset>
      <fieldset data-for="adjust">${COLOURS}
        <div class="actions"><button type="button" data-ref="resetColours" data-t="resetColours"></button></div>
      </fieldset>
      <fieldset data-for="text">
        <label class="field"><span data-t="overlayText"></span><textarea name="text" rows="2" required></textarea></label>
        <div class="row">
          <div class="field"><label for="hj-anchor" data-t="position"></label><select id="hj-anchor" name="anchor">${anchors}</select></div>
          <label class="field"><span data-t="textColour"></span><input type="color" name="colour" value="#ffffff"></label>
        </div>
        ${range('size', 'textSize', 2, 30, 1, 8)}
        <div class="actions">
          <label><input type="checkbox" name="shadow" checked> <span data-t="shadow"></span></label>
          <label><input type="checkbox" name="bold"> <span data-t="bold"></span></label>
        </div>
      </fieldset>
      <p class="note" data-ref="editSize" aria-live="polite"></p>
      <div class="actions">
        <button type="submit" class="primary" data-ref="editApply" data-idle-only></button>
      </div>
    </form>
  </section>`;
}
