// What the panel remembers per browser: last style, count and size, the language, the API key.
// localStorage can be unavailable (privacy modes, sandboxed frames): then nothing is remembered.

const PREFS_KEY = 'huajia.prefs';
const LANG_KEY = 'huajia.lang';

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

function read(key) {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null || value === '') storage()?.removeItem(key);
    else storage()?.setItem(key, value);
  } catch {
    // Quota or privacy mode: remembering is a convenience, never an error.
  }
}

export function loadPrefs() {
  try {
    return JSON.parse(read(PREFS_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

export function savePrefs(prefs) {
  write(PREFS_KEY, JSON.stringify(prefs));
}

export function loadLanguage() {
  return read(LANG_KEY);
}

export function saveLanguage(lang) {
  write(LANG_KEY, lang);
}

// Keys are remembered per service, so two Huajia endpoints do not share a key.
function apiKeyName(endpoint) {
  return `huajia.apiKey:${endpoint}`;
}

export function loadApiKey(endpoint) {
  return read(apiKeyName(endpoint)) || '';
}

export function saveApiKey(endpoint, key) {
  write(apiKeyName(endpoint), key);
}
