// node --test tests/js: the panel's alt text proposal (src/huajia/web/static/panel/alt-text.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ALT_MAX, cleanPrompt, proposeAlt, withoutTemplate } from '../../src/huajia/web/static/panel/alt-text.js';

const ILLUSTRATION = {
  name: 'illustration',
  labels: { 'zh-CN': '插画', en: 'Illustration' },
  prompt_template: '{prompt}. A modern editorial illustration with bold simple shapes, flat colours.',
};

test('a plain English prompt stays as it is', () => {
  assert.equal(proposeAlt('A red lighthouse on a cliff at dawn'), 'A red lighthouse on a cliff at dawn');
});

test('style tokens, weights, flags and LoRA tags are removed from an English prompt', () => {
  const prompt = 'masterpiece, best quality, (red lighthouse:1.3), cliff at dawn, 8k, <lora:film:0.7> trending on artstation --ar 16:9';
  assert.equal(proposeAlt(prompt), 'Red lighthouse, cliff at dawn');
});

test('a Chinese prompt becomes one Chinese line without quality tokens', () => {
  assert.equal(proposeAlt('杰作，最佳质量，海边的红色灯塔，黎明，8K, 超高清'), '海边的红色灯塔，黎明');
});

test('the preset is named in the prompt language', () => {
  assert.equal(proposeAlt('a red lighthouse at dawn', ILLUSTRATION), 'A red lighthouse at dawn, in illustration style');
  assert.equal(proposeAlt('海边的红色灯塔', ILLUSTRATION), '海边的红色灯塔（插画风格）');
});

test("an expanded prompt loses the preset's template text", () => {
  const expanded = 'A red lighthouse at dawn. A modern editorial illustration with bold simple shapes, flat colours.';
  assert.equal(withoutTemplate(expanded, ILLUSTRATION), 'A red lighthouse at dawn');
  assert.equal(proposeAlt(expanded, ILLUSTRATION), 'A red lighthouse at dawn, in illustration style');
});

test('the length limit holds, cut at a word in English and anywhere in Chinese', () => {
  const english = proposeAlt('a lighthouse '.repeat(40));
  assert.ok(english.length <= ALT_MAX, english.length);
  assert.ok(english.endsWith('…'));
  const words = english.slice(0, -1).split(' ');
  assert.ok(words.every((word) => ['A', 'a', 'lighthouse'].includes(word)), english); // no word cut
  const chinese = proposeAlt('海边的红色灯塔'.repeat(40), null, 20);
  assert.equal(chinese.length, 20);
  assert.ok(chinese.endsWith('…'));
});

test('a prompt of nothing but style tokens proposes nothing', () => {
  assert.equal(proposeAlt('masterpiece, 8k, highly detailed'), '');
  assert.equal(cleanPrompt(''), '');
  assert.equal(proposeAlt(''), '');
});
