// Interface text in the two languages content teams use; keys are shared by panel and web app.
const MESSAGES = {
  en: {
    title: 'Generate image',
    language: 'Language',
    close: 'Close',
    prompt: 'Prompt',
    promptPlaceholder: 'Describe the picture, e.g. a lighthouse at dawn in soft mist',
    style: 'Style',
    styleNone: 'No style',
    size: 'Size',
    sizeCustom: 'Custom size',
    width: 'Width',
    height: 'Height',
    count: 'Number of images',
    advanced: 'Advanced',
    seed: 'Seed (empty = random)',
    steps: 'Steps',
    negative: 'Negative prompt',
    generate: 'Generate',
    cancel: 'Cancel',
    progress: 'Progress',
    submitting: 'Sending…',
    queued: 'Waiting in queue: position {position}',
    starting: 'Starting…',
    step: 'Step {step} of {total}',
    completed: 'Done: {count} image(s)',
    canceled: 'Canceled',
    canceling: 'Canceling…',
    failed: 'Failed: {message}',
    reconnecting: 'Connection lost, reconnecting…',
    results: 'Results',
    regenerate: 'Regenerate',
    moreLikeThis: 'More like this',
    download: 'Download',
    imageName: 'Image {index}, seed {seed}',
    selected: '{count} selected',
    alt: 'Alt text',
    caption: 'Caption (optional)',
    insert: 'Insert',
    apiKeyNeeded: 'This Huajia service needs an API key.',
    apiKey: 'API key',
    save: 'Save',
    queueFull: 'The queue is full. Try again in {seconds} s.',
    confirmClose: 'An image is still being generated. Cancel it and close?',
    cancelAndClose: 'Cancel generation and close',
    keepGenerating: 'Keep generating',
    randomWeights: 'Test model with random weights: the images are noise.',
    gallery: 'My images',
    search: 'Search prompts',
    filterStyle: 'Filter by style',
    allStyles: 'All styles',
    favouritesOnly: 'Favourites only',
    favourite: 'Favourite',
    loadMore: 'Load more',
    noImages: 'No images yet.',
    paused: 'Paused: enter an API key to keep following this task',
    stopped: 'Stopped following the task',
    errorDetail: 'Details: {message}',
    'error.invalid_request': 'The service did not accept these settings.',
    'error.prompt_too_long': 'The prompt is too long for this model.',
    'error.unknown_preset': 'This style is not available on the service.',
    'error.unknown_model': 'This model is not available on the service.',
    'error.idempotency_key_reused': 'This request was already sent with different settings; try again.',
    'error.unauthorized': 'This Huajia service needs an API key.',
    'error.forbidden': 'This API key is not allowed to do that.',
    'error.not_found': 'The task no longer exists on the service.',
    'error.task_not_found': 'The task no longer exists on the service.',
    'error.quota_exceeded': 'The usage limit for this API key is reached. Try again in {seconds} s.',
    'error.out_of_memory': 'Not enough GPU memory: try a smaller size or fewer images.',
    'error.storage_failed': 'The images were generated but could not be saved.',
    'error.generation_failed': 'Generating the image failed.',
    'error.worker_lost': 'The generation worker stopped while working on this task; try again.',
    'error.engine_unavailable': 'The image model is not available right now; try again later.',
    'error.model_load_failed': 'The image model could not be loaded.',
    'error.internal_error': 'The service had an internal error.',
    'error.network': 'Cannot reach the Huajia service.',
    'error.unknown': 'Something went wrong.',
  },
  'zh-CN': {
    title: 'AI 生成图片',
    language: '语言',
    close: '关闭',
    prompt: '画面描述',
    promptPlaceholder: '描述你想要的画面，例如：晨雾中的灯塔',
    style: '风格',
    styleNone: '无风格',
    size: '尺寸',
    sizeCustom: '自定义尺寸',
    width: '宽度',
    height: '高度',
    count: '生成数量',
    advanced: '高级选项',
    seed: '随机种子（留空为随机）',
    steps: '步数',
    negative: '反向提示词',
    generate: '生成',
    cancel: '取消',
    progress: '进度',
    submitting: '正在提交…',
    queued: '排队中：第 {position} 位',
    starting: '正在开始…',
    step: '第 {step}/{total} 步',
    completed: '完成：共 {count} 张',
    canceled: '已取消',
    canceling: '正在取消…',
    failed: '失败：{message}',
    reconnecting: '连接中断，正在重连…',
    results: '结果',
    regenerate: '重新生成',
    moreLikeThis: '更多类似',
    download: '下载',
    imageName: '第 {index} 张，种子 {seed}',
    selected: '已选 {count} 张',
    alt: '替代文本',
    caption: '图片说明（可选）',
    insert: '插入',
    apiKeyNeeded: '此画架服务需要 API 密钥。',
    apiKey: 'API 密钥',
    save: '保存',
    queueFull: '队列已满，请 {seconds} 秒后重试。',
    confirmClose: '图片仍在生成中。取消生成并关闭吗？',
    cancelAndClose: '取消生成并关闭',
    keepGenerating: '继续生成',
    randomWeights: '测试模型（随机权重）：生成的图片是噪声。',
    gallery: '我的图片',
    search: '搜索描述',
    filterStyle: '按风格筛选',
    allStyles: '全部风格',
    favouritesOnly: '只看收藏',
    favourite: '收藏',
    loadMore: '加载更多',
    noImages: '还没有图片。',
    paused: '已暂停：请输入 API 密钥以继续跟踪此任务',
    stopped: '已停止跟踪此任务',
    errorDetail: '详情：{message}',
    'error.invalid_request': '服务不接受这些参数。',
    'error.prompt_too_long': '画面描述太长，超出模型的限制。',
    'error.unknown_preset': '服务上没有这个风格。',
    'error.unknown_model': '服务上没有这个模型。',
    'error.idempotency_key_reused': '此请求已用不同的参数提交过，请重试。',
    'error.unauthorized': '此画架服务需要 API 密钥。',
    'error.forbidden': '此 API 密钥无权执行此操作。',
    'error.not_found': '服务上已没有这个任务。',
    'error.task_not_found': '服务上已没有这个任务。',
    'error.quota_exceeded': '此 API 密钥的用量已达上限，请 {seconds} 秒后重试。',
    'error.out_of_memory': 'GPU 显存不足：请缩小尺寸或减少数量。',
    'error.storage_failed': '图片已生成，但无法保存。',
    'error.generation_failed': '图片生成失败。',
    'error.worker_lost': '生成进程在处理此任务时中断，请重试。',
    'error.engine_unavailable': '图像模型暂时不可用，请稍后重试。',
    'error.model_load_failed': '图像模型无法加载。',
    'error.internal_error': '服务内部出错。',
    'error.network': '无法连接画架服务。',
    'error.unknown': '出错了。',
  },
};

export const LANGUAGES = [
  { code: 'zh-CN', name: '简体中文' },
  { code: 'en', name: 'English' },
];

/** Map any language tag (zh, zh-cn, zh-Hans-CN, en-GB...) to one we have, or null. */
export function normalizeLanguage(tag) {
  if (!tag) return null;
  const lower = String(tag).toLowerCase();
  if (lower.startsWith('zh')) return 'zh-CN';
  if (lower.startsWith('en')) return 'en';
  return null;
}

/** The explicit choice wins, then what the user picked before, then the browser's languages. */
export function resolveLanguage(explicit, remembered, browserLanguages) {
  for (const tag of [explicit, remembered, ...(browserLanguages || [])]) {
    const found = normalizeLanguage(tag);
    if (found) return found;
  }
  return 'en';
}

/** True when `key` has a text of its own (used to tell known error codes from unknown ones). */
export function hasMessage(key) {
  return Object.hasOwn(MESSAGES.en, key);
}

export function translate(lang, key, vars = {}) {
  const text = (MESSAGES[lang] || MESSAGES.en)[key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** A label object from the API ({"zh-CN": ..., "en": ...}) in the chosen language. */
export function pickLabel(labels, lang, fallback) {
  if (!labels) return fallback;
  return labels[lang] || labels.en || Object.values(labels)[0] || fallback;
}

/** Fill every [data-t] element's text and [data-t-*] attributes under `root`. */
export function applyTranslations(root, lang) {
  for (const node of root.querySelectorAll('[data-t]')) {
    node.textContent = translate(lang, node.dataset.t);
  }
  for (const attr of ['placeholder', 'aria-label', 'title']) {
    const dataName = `data-t-${attr}`;
    for (const node of root.querySelectorAll(`[${dataName}]`)) {
      node.setAttribute(attr, translate(lang, node.getAttribute(dataName)));
    }
  }
}
