// node --test tests/js: the CKEditor package's `exports` resolve to real files, its modules
// load, and every name it imports from 'ckeditor5' (the image plugins it requires) exists.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../integrations/ckeditor5');
const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
const requireHere = createRequire(join(PACKAGE_DIR, 'package.json'));

test('every export of the package resolves to a file that exists', () => {
  assert.ok(Object.keys(manifest.exports).length >= 2);
  for (const subpath of Object.keys(manifest.exports)) {
    const specifier = subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`;
    const resolved = requireHere.resolve(specifier); // the package refers to itself by name
    assert.ok(existsSync(resolved), `${specifier} -> ${resolved}`);
  }
  assert.ok(existsSync(join(PACKAGE_DIR, manifest.main)));
});

test('the DOM-free modules load and label through a locale', async () => {
  const labels = await import(pathToFileURL(requireHere.resolve(`${manifest.name}/labels`)).href);
  const chinese = { uiLanguage: 'zh-cn', t: (message) => message };
  const translated = { uiLanguage: 'de', t: (message) => (message === 'Generate image' ? 'Bild erzeugen' : message) };
  assert.equal(labels.label(chinese, labels.MESSAGES.GENERATE), 'AI 生成图片');
  assert.equal(labels.label(translated, labels.MESSAGES.GENERATE), 'Bild erzeugen');
  assert.equal(labels.label(translated, labels.MESSAGES.EDIT), 'Edit with Huajia');
  assert.equal(labels.label(chinese, labels.MESSAGES.EDIT, 'en'), 'Edit with Huajia');
  const dialog = await import(pathToFileURL(requireHere.resolve(`${manifest.name}/paneldialog`)).href);
  assert.equal(typeof dialog.PanelDialog, 'function');
});

const DIST = join(PACKAGE_DIR, 'node_modules/ckeditor5/dist/browser/ckeditor5.js');
const NOT_INSTALLED = existsSync(DIST) ? false : 'CKEditor 5 is not installed (npm ci --prefix integrations/ckeditor5)';

test("every name imported from 'ckeditor5' is exported by it, and relative imports exist", { skip: NOT_INSTALLED }, () => {
  const dist = readFileSync(DIST, 'utf8');
  const exported = new Set([...dist.matchAll(/\bas ([A-Za-z_$][\w$]*)[,}]/g)].map((m) => m[1]));
  const sources = readdirSync(join(PACKAGE_DIR, 'src')).filter((name) => name.endsWith('.js'));
  const fromCkeditor = [];
  for (const name of sources) {
    const text = readFileSync(join(PACKAGE_DIR, 'src', name), 'utf8');
    for (const [, names, from] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
      if (from === 'ckeditor5') fromCkeditor.push(...names.split(',').map((n) => n.trim()).filter(Boolean));
      else assert.ok(existsSync(join(PACKAGE_DIR, 'src', from)), `${name} imports ${from}`);
    }
  }
  assert.ok(fromCkeditor.includes('ImageBlockEditing'), 'the plugin requires the block image');
  for (const name of fromCkeditor) assert.ok(exported.has(name), `ckeditor5 has no export ${name}`);
});
