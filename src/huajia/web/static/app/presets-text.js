// The preset admin page's text, in the languages the rest of the UI speaks (panel/i18n.js).
export const TEXT = {
  en: {
    back: '← Generate', language: 'Language', listTitle: 'Style presets',
    nameColumn: 'Name', name: 'Name (a-z, 0-9, - and _)', displayName: 'Display name', version: 'Version',
    state: 'State', actions: 'Actions', active: 'In use', retired: 'Retired',
    newPreset: 'New preset', createTitle: 'New style preset', editTitle: 'Edit “{name}”',
    labelZh: 'Chinese name', labelEn: 'English name',
    template: 'Prompt template ({prompt} is where the editor’s text goes)',
    negative: 'Negative prompt', lora: 'LoRA', noLora: 'No LoRA', loraWeight: 'LoRA weight',
    width: 'Default width', height: 'Default height', reviewRequired: 'Review before publishing',
    visibleMark: 'Visible AI mark', serverDefault: 'Server default', yes: 'Yes', no: 'No',
    save: 'Save', cancel: 'Clear', edit: 'Edit', retire: 'Retire',
    created: 'Preset “{name}” created (version {version}).',
    updated: 'Preset “{name}” saved as version {version}.',
    retiredDone: 'Preset “{name}” retired.',
    confirmRetire: 'Retire “{name}”? New requests can no longer use it.',
    failed: 'Not saved: {message}',
    apiKey: 'API key', useKey: 'Use key',
    keyNeeded: 'This Huajia service needs an API key: enter an admin key.',
    notAdmin: 'This API key may not manage presets: enter an admin key.',
  },
  'zh-CN': {
    back: '← 生成图片', language: '语言', listTitle: '风格预设',
    nameColumn: '名称', name: '名称（a-z、0-9、- 和 _）', displayName: '显示名称', version: '版本',
    state: '状态', actions: '操作', active: '使用中', retired: '已停用',
    newPreset: '新建预设', createTitle: '新建风格预设', editTitle: '编辑“{name}”',
    labelZh: '中文名称', labelEn: '英文名称',
    template: '提示词模板（{prompt} 处填入编辑输入的描述）',
    negative: '反向提示词', lora: 'LoRA', noLora: '不使用 LoRA', loraWeight: 'LoRA 权重',
    width: '默认宽度', height: '默认高度', reviewRequired: '发布前需审核',
    visibleMark: '可见 AI 标识', serverDefault: '服务默认', yes: '是', no: '否',
    save: '保存', cancel: '清空', edit: '编辑', retire: '停用',
    created: '已创建预设“{name}”（版本 {version}）。',
    updated: '预设“{name}”已保存为版本 {version}。',
    retiredDone: '预设“{name}”已停用。',
    confirmRetire: '停用“{name}”？新的请求将不能再使用它。',
    failed: '未保存：{message}',
    apiKey: 'API 密钥', useKey: '使用密钥',
    keyNeeded: '此画架服务需要 API 密钥：请输入管理员密钥。',
    notAdmin: '此 API 密钥无权管理预设：请输入管理员密钥。',
  },
};

export function say(lang, key, vars = {}) {
  const text = (TEXT[lang] || TEXT.en)[key] ?? TEXT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}
