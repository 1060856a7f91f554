// Alt text proposed from a prompt and its style preset: what the picture shows, as one clean
// sentence in the prompt's language (Chinese or English), without the style's template text,
// prompt weights, flags or "masterpiece, 8k" quality tokens. Pure: no DOM, tested with node.

export const ALT_MAX = 150;

// Tokens that describe rendering quality, not content (compared lower-case, whole token).
const QUALITY_TOKENS = new Set([
  'masterpiece', 'best quality', 'high quality', 'highest quality', 'top quality', 'ultra quality',
  'hd', 'uhd', 'fhd', 'hdr', '4k', '8k', '16k', '4k uhd', '8k uhd', 'ultra hd', 'ultra-detailed',
  'ultra detailed', 'highly detailed', 'extremely detailed', 'very detailed', 'intricate details',
  'intricate detail', 'sharp focus', 'trending on artstation', 'artstation', 'octane render',
  'unreal engine', 'unreal engine 5', 'award winning', 'award-winning', 'professional',
  'photorealistic', 'hyperrealistic', 'hyper realistic', 'cinematic', 'cinematic lighting',
  'studio lighting', 'volumetric lighting', 'raw photo', 'dslr', 'absurdres', 'highres',
  '杰作', '最佳质量', '高质量', '高画质', '超高清', '高清', '超清', '超精细', '细节丰富',
  '极致细节', '超高细节', '4k画质', '8k画质', '电影感', '电影级', '电影级光效', '专业摄影',
]);
const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;

/** Whether `text` is mainly Chinese (any Han character decides: prompts mix in Latin tokens). */
export function isChinese(text) {
  return CJK.test(String(text || ''));
}

/**
 * The proposed alt text. `preset`: the style preset as /api/v1/presets lists it
 * ({name, labels, prompt_template}) or null; `max`: the length limit in characters.
 */
export function proposeAlt(prompt, preset = null, max = ALT_MAX) {
  const zh = isChinese(prompt);
  const subject = cleanPrompt(withoutTemplate(String(prompt || ''), preset), zh);
  if (!subject) return '';
  const label = presetLabel(preset, zh);
  const sentence = label ? withStyle(subject, label, zh) : subject;
  return shorten(sentence, max, zh);
}

/** The prompt without the text a style template put around it (if it was expanded). */
export function withoutTemplate(prompt, preset) {
  const template = String(preset?.prompt_template || '');
  const slot = template.indexOf('{prompt}');
  if (slot < 0) return prompt;
  const before = template.slice(0, slot).trim();
  const after = template.slice(slot + '{prompt}'.length).replace(/^[.。]\s*/, '').trim();
  let text = prompt.trim();
  if (before && text.startsWith(before)) text = text.slice(before.length);
  if (after && text.endsWith(after)) text = text.slice(0, -after.length).replace(/[.。\s]+$/, '');
  return text.trim();
}

/** One line of what the picture shows: weights, flags, LoRA tags and quality tokens removed. */
export function cleanPrompt(prompt, zh = isChinese(prompt)) {
  const text = String(prompt || '')
    .replace(/<[^<>]*>/g, ' ') // <lora:name:0.8>
    .replace(/(^|\s)--[a-z]+(\s+[^\s-][^\s]*)?/gi, ' ') // --ar 16:9, --v 6
    .replace(/\(([^()]*?):\s*[\d.]+\)/g, '$1') // (red hat:1.3)
    .replace(/[()[\]{}]/g, ' ') // ((emphasis)), [de-emphasis]
    .replace(/\s+/g, ' ');
  const parts = text.split(/[,，、;；|]+/).map((part) => part.trim().replace(/^[.。\s]+|[.。\s]+$/g, ''));
  const kept = parts.filter((part) => part && !QUALITY_TOKENS.has(part.toLowerCase()));
  if (!kept.length) return '';
  const joined = kept.join(zh ? '，' : ', ');
  return zh ? joined : joined.charAt(0).toUpperCase() + joined.slice(1);
}

function presetLabel(preset, zh) {
  if (!preset) return '';
  const labels = preset.labels || {};
  const wanted = zh ? 'zh' : 'en';
  const key = Object.keys(labels).find((name) => name.toLowerCase().startsWith(wanted));
  return String((key && labels[key]) || preset.name || '').trim();
}

function withStyle(subject, label, zh) {
  if (zh) return `${subject}（${label}风格）`;
  return `${subject}, in ${label.toLowerCase()} style`;
}

function shorten(sentence, max, zh) {
  const line = sentence.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  const cut = line.slice(0, max - 1);
  const space = zh ? -1 : cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,，、]+$/, '')}…`;
}
