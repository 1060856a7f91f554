// A modal <dialog> hosting <huajia-panel>. The panel element is kept between openings, so a
// task that runs while the dialog is closed is still there (with its results) when it reopens.
// Opened to edit an article image, the panel's Insert becomes "Replace image" (huajia-replace).

const STYLE_ID = 'huajia-panel-dialog-style';
const STYLE = `
dialog.huajia-dialog { padding: 0; border: 0; border-radius: 10px; width: min(640px, 96vw);
  max-height: 92vh; overflow: auto; box-shadow: 0 12px 40px rgb(0 0 0 / .3); }
dialog.huajia-dialog::backdrop { background: rgb(15 23 42 / .45); }
dialog.huajia-dialog .huajia-load-error { margin: 0; padding: 16px; color: #b42318; }`;

export class PanelDialog {
  /**
   * options: {endpoint, apiKey, language, labels: {generate, edit}, panelUrl, onInsert(detail),
   * onReplace(detail), onClose()}
   */
  constructor(options) {
    this.options = options;
    this.dialog = null;
    this.panel = null;
    this.destroyed = false;
  }

  /** Open to generate, or with `edit` (an image source for the panel) to edit that image. */
  async open({ edit = null } = {}) {
    if (this.destroyed) return;
    this._ensureDialog();
    const labels = this.options.labels || {};
    const label = edit ? labels.edit : labels.generate;
    if (label) this.dialog.setAttribute('aria-label', label);
    if (!this.dialog.open) this.dialog.showModal();
    try {
      await this._ensurePanel();
      if (!this.panel) return;
      if (edit) {
        await this.panel.editImage(edit, { replace: true });
      } else {
        if (this.panel.replacing) this.panel.closeEditor();
        this.panel.focusPrompt();
      }
    } catch (err) {
      if (!this.destroyed) this._showLoadError(err);
    }
  }

  close() {
    if (this.dialog?.open) this.dialog.close();
    this.options.onClose?.();
  }

  /**
   * The editor is going away: remove the panel (its disconnectedCallback closes the task's
   * event stream) and make sure a panel still loading is never attached to a removed dialog.
   * A task still running on the service is left to finish there.
   */
  destroy() {
    this.destroyed = true;
    this.panel?.remove();
    this.dialog?.remove();
    this.dialog = null;
    this.panel = null;
  }

  _ensureDialog() {
    if (this.dialog) return;
    if (!document.getElementById(STYLE_ID)) {
      const style = Object.assign(document.createElement('style'), { id: STYLE_ID, textContent: STYLE });
      document.head.append(style);
    }
    this.dialog = document.createElement('dialog');
    this.dialog.className = 'huajia-dialog';
    this.dialog.setAttribute('aria-label', this.options.language === 'zh-CN' ? 'AI 生成图片' : 'Generate image');
    // Escape asks the panel, which offers to cancel a running task before closing.
    this.dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      if (this.panel) this.panel.requestClose();
      else this.close();
    });
    document.body.append(this.dialog);
  }

  async _ensurePanel() {
    if (this.panel) return;
    const { endpoint, apiKey, language, panelUrl } = this.options;
    const url = panelUrl || new URL('static/panel/huajia-panel.js', endpoint.endsWith('/') ? endpoint : `${endpoint}/`).href;
    await import(/* webpackIgnore: true */ /* @vite-ignore */ url);
    if (this.destroyed || this.panel) return; // destroyed, or opened twice, while loading
    const panel = document.createElement('huajia-panel');
    panel.setAttribute('endpoint', endpoint);
    if (apiKey) panel.setAttribute('api-key', apiKey);
    panel.setAttribute('lang', language);
    panel.setAttribute('closable', '');
    panel.addEventListener('huajia-insert', (event) => {
      this.options.onInsert(event.detail);
      this.close();
    });
    panel.addEventListener('huajia-replace', (event) => {
      this.options.onReplace?.(event.detail);
      this.close();
    });
    panel.addEventListener('huajia-close', () => this.close());
    this.dialog.replaceChildren(panel);
    this.panel = panel;
  }

  _showLoadError(err) {
    const message = document.createElement('p');
    message.className = 'huajia-load-error';
    message.setAttribute('role', 'alert');
    message.textContent = `Huajia: ${err?.message || err}`;
    this.dialog.replaceChildren(message);
  }
}
