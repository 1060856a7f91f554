// The panel's markup, built once per element; texts are filled in by applyTranslations().
import { editMarkup } from './edit-template.js';

export const COUNTS = [1, 2, 4, 9];

export function panelMarkup(cssHref) {
  const counts = COUNTS.map((n) => `
      <label class="chip"><input type="radio" name="count" value="${n}"${n === 1 ? ' checked' : ''}><span>${n}</span></label>`).join('');
  return `
<link rel="stylesheet" href="${cssHref}">
<section class="panel" part="panel" aria-labelledby="hj-title">
  <header class="head">
    <h2 id="hj-title" data-t="title"></h2>
    <span class="lang"><label for="hj-lang" data-t="language"></label>
      <select id="hj-lang" data-ref="lang"></select></span>
    <button type="button" class="close" data-ref="close" data-t-aria-label="close" data-t-title="close" hidden>×</button>
  </header>
  <p class="notice" data-ref="notice" data-t="randomWeights" hidden></p>
  <form class="key" data-ref="keyForm" hidden>
    <p data-t="apiKeyNeeded"></p>
    <p class="detail" data-ref="keyDetail"></p>
    <label><span data-t="apiKey"></span>
      <input type="password" name="apiKey" autocomplete="off" required></label>
    <button type="submit" data-t="save"></button>
  </form>
  <form class="form" data-ref="form">
    <label class="field"><span data-t="prompt"></span>
      <textarea name="prompt" rows="3" required data-t-placeholder="promptPlaceholder"></textarea></label>
    <details class="history" data-ref="history"><summary data-t="historyTitle"></summary>
      <input type="search" data-ref="historySearch" data-t-aria-label="historySearch" data-t-placeholder="historySearch">
      <p class="detail" data-ref="historyEmpty" hidden></p>
      <ul class="history-list" data-ref="historyList"></ul>
    </details>
    <div class="field model" data-ref="modelField" hidden>
      <label for="hj-model" data-t="model"></label><select id="hj-model" name="model" aria-describedby="hj-model-limits"></select>
      <p class="detail" id="hj-model-limits" data-ref="modelLimits"></p>
    </div>
    <div class="row">
      <div class="field"><label for="hj-style" data-t="style"></label><select id="hj-style" name="style"></select></div>
      <div class="field"><label for="hj-size" data-t="size"></label><select id="hj-size" name="size"></select></div>
    </div>
    <div class="row" data-ref="custom" hidden>
      <label class="field"><span data-t="width"></span><input type="number" name="width" inputmode="numeric"></label>
      <label class="field"><span data-t="height"></span><input type="number" name="height" inputmode="numeric"></label>
    </div>
    <fieldset class="counts"><legend data-t="count"></legend>${counts}
    </fieldset>
    <details class="advanced"><summary data-t="advanced"></summary>
      <div class="row">
        <label class="field"><span data-t="seed"></span><input type="number" name="seed" min="0" inputmode="numeric"></label>
        <label class="field"><span data-t="steps"></span><input type="number" name="steps" min="1" inputmode="numeric"></label>
      </div>
      <label class="field"><span data-t="negative"></span><textarea name="negative" rows="2"></textarea></label>
    </details>
    <div class="actions">
      <button type="submit" class="primary" data-ref="generate" data-t="generate"></button>
      <button type="button" data-ref="cancel" data-t="cancel" hidden></button>
    </div>
  </form>
  <div class="status" data-ref="statusBox" hidden>
    <div class="bar" role="progressbar" data-ref="bar" data-t-aria-label="progress" aria-valuemin="0">
      <div class="fill" data-ref="fill"></div></div>
    <p role="status" aria-live="polite" data-ref="statusText"></p>
  </div>
  <div class="error" role="alert" data-ref="error"></div>
  <div class="confirm" data-ref="confirm" role="group" aria-labelledby="hj-confirm" hidden>
    <p id="hj-confirm" data-t="confirmClose"></p>
    <button type="button" class="danger" data-ref="confirmCancel" data-t="cancelAndClose"></button>
    <button type="button" data-ref="confirmKeep" data-t="keepGenerating"></button>
  </div>
  <section class="results" data-ref="results" aria-labelledby="hj-results" hidden>
    <div class="results-head">
      <h3 id="hj-results" data-ref="resultsHeading" tabindex="-1" data-t="results"></h3>
      <span data-ref="selectedCount" aria-live="polite"></span>
      <button type="button" data-ref="regenerate" data-t="regenerate"></button>
    </div>
    <ul class="previews" data-ref="previews" data-t-aria-label="previews" hidden></ul>
    <ul class="grid" data-ref="grid"></ul>
    ${editMarkup()}
    <div class="insert" data-ref="insertBox">
      <label class="field"><span data-t="alt"></span><textarea name="alt" rows="2" data-ref="alt"></textarea></label>
      <label class="field"><span data-t="caption"></span><input type="text" data-ref="caption"></label>
      <button type="button" class="primary" data-ref="insert" data-t="insert" disabled></button>
    </div>
  </section>
</section>`;
}
