// The built-in web app: the shared generate panel next to the gallery of the caller's images.
import '../panel/huajia-panel.js';
import './huajia-gallery.js';
import './image-detail.js';
import { HuajiaClient } from '../panel/client.js';
import { loadApiKey } from '../panel/prefs.js';

const panel = document.getElementById('panel');
const gallery = document.getElementById('gallery');
const endpoint = globalThis.location.origin;

async function configureGallery(apiKey) {
  const lang = panel.language;
  document.documentElement.lang = lang;
  const client = new HuajiaClient(endpoint, apiKey ?? loadApiKey(endpoint));
  let presets;
  let sizes;
  try {
    ({ presets, sizes } = await client.presets());
  } catch {
    // The panel shows the reason (for example the API key form); the gallery just waits.
  }
  gallery.configure({ lang, client, presets, sizes });
  gallery.refresh();
}

panel.addEventListener('huajia-languagechange', () => configureGallery());
panel.addEventListener('huajia-apikey', (event) => configureGallery(event.detail.apiKey));
panel.addEventListener('huajia-completed', () => gallery.refresh());
panel.addEventListener('huajia-edited', () => gallery.refresh());
gallery.addEventListener('huajia-edit', (event) => panel.editImage(event.detail.image));
gallery.addEventListener('huajia-use-settings', (event) => panel.useSettings(event.detail.parameters));
customElements.whenDefined('huajia-panel').then(() => configureGallery());
