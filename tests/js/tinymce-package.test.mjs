// node --test tests/js: the TinyMCE package's `exports` resolve to real files, its modules load,
// the figures it inserts are escaped, and its labels follow the editor's language.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../integrations/tinymce');
const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8'));
const requireHere = createRequire(join(PACKAGE_DIR, 'package.json'));
const load = (subpath) => import(pathToFileURL(requireHere.resolve(`${manifest.name}${subpath}`)).href);

test('every export of the TinyMCE package resolves to a file that exists', () => {
  assert.ok(Object.keys(manifest.exports).length >= 2);
  for (const subpath of Object.keys(manifest.exports)) {
    const specifier = subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`;
    const resolved = requireHere.resolve(specifier); // the package refers to itself by name
    assert.ok(existsSync(resolved), `${specifier} -> ${resolved}`);
  }
  assert.ok(existsSync(join(PACKAGE_DIR, manifest.main)));
  assert.ok(existsSync(join(PACKAGE_DIR, 'README.md')));
});

test('the entry point loads and registers the plugin with a PluginManager', async () => {
  const plugin = await load('');
  const added = {};
  plugin.registerHuajiaPlugin({ PluginManager: { add: (name, fn) => { added[name] = fn; } } });
  assert.equal(added.huajia, plugin.HuajiaPlugin);
  assert.throws(() => plugin.registerHuajiaPlugin({}), /TinyMCE is not loaded/);
  assert.equal(typeof (await load('/paneldialog')).PanelDialog, 'function');
});

test('figures: one per image, escaped alt text and caption, size and Huajia id', async () => {
  const { figuresHtml } = await load('/figures');
  const html = figuresHtml({
    caption: 'Dawn <at> sea & "sky"',
    images: [
      { id: 'a1', url: 'https://h.example/i/1.png?x=1&y=2', width: 512, height: 384, alt: 'A "red" boat' },
      { id: '', url: 'https://h.example/i/2.png', alt: '' },
    ],
  });
  assert.equal(html,
    '<figure class="image"><img src="https://h.example/i/1.png?x=1&amp;y=2" alt="A &quot;red&quot; boat" width="512" height="384" data-huajia-image-id="a1">'
    + '<figcaption>Dawn &lt;at&gt; sea &amp; &quot;sky&quot;</figcaption></figure>'
    + '<figure class="image"><img src="https://h.example/i/2.png" alt=""><figcaption>Dawn &lt;at&gt; sea &amp; &quot;sky&quot;</figcaption></figure>');
  assert.equal(figuresHtml({ images: [{ url: 'u.png', alt: 'x' }] }), '<figure class="image"><img src="u.png" alt="x"></figure>');
  assert.equal(figuresHtml({ images: [] }), '');
});

test('labels: an editor translation wins, else Chinese for zh*, else English', async () => {
  const { MESSAGES, label, panelLanguage } = await load('/labels');
  assert.equal(label(MESSAGES.BUTTON, 'zh_CN'), 'AI 图片');
  assert.equal(label(MESSAGES.BUTTON, 'en'), 'AI image');
  assert.equal(label(MESSAGES.BUTTON, 'de', (text) => (text === 'AI image' ? 'KI-Bild' : text)), 'KI-Bild');
  assert.equal(panelLanguage('zh_CN'), 'zh-CN');
  assert.equal(panelLanguage('fr_FR'), 'en');
});
