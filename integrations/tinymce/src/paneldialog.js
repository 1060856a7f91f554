// A modal <dialog> holding <huajia-panel>, outside the editor's iframe. The panel is loaded from
// the Huajia endpoint on first use and kept between openings, so a task that runs while the
// dialog is closed is still there, with its results, when it opens again.

const STYLE_ID = 'huajia-tinymce-dialog-style';
const STYLE = `
dialog.huajia-tinymce-dialog { padding: 0; border: 0; border-radius: 10px; width: min(640px, 96vw);
  max-height: 92vh; overflow: auto; box-shadow: 0 12px 40px rgb(0 0 0 / .3); }
dialog.huajia-tinymce-dialog::backdrop { background: rgb(15 23 42 / .45); }
dialog.huajia-tinymce-dialog [role=alert] { margin: 0; padding: 16px; color: #b42318; }`;

export class PanelDialog {
  /** options: {endpoint, apiKey, language, label, panelUrl, onInsert(detail), onClose()} */
  constructor(options) {
    this.options = options;
    this.dialog = null;
    this.panel = null;
    this.destroyed = false;
  }

  /** Show the dialog and put the cursor in the panel's prompt (loading the panel first). */
  async open() {
    if (this.destroyed) return;
    this._ensureDialog();
    if (!this.dialog.open) this.dialog.showModal();
    try {
      await this._ensurePanel();
      this.panel?.focusPrompt();
    } catch (err) {
      if (!this.destroyed) this._showError(err);
    }
  }

  close() {
    if (this.dialog?.open) this.dialog.close();
    this.options.onClose?.();
  }

  /** The editor is removed: the panel goes too (closing its task's event stream). */
  destroy() {
    this.destroyed = true;
    this.panel?.remove();
    this.dialog?.remove();
    this.panel = null;
    this.dialog = null;
  }

  _ensureDialog() {
    if (this.dialog) return;
    if (!document.getElementById(STYLE_ID)) {
      document.head.append(Object.assign(document.createElement('style'), { id: STYLE_ID, textContent: STYLE }));
    }
    this.dialog = document.createElement('dialog');
    this.dialog.className = 'huajia-tinymce-dialog';
    this.dialog.setAttribute('aria-label', this.options.label);
    // Escape asks the panel, which offers to cancel a running task before it closes.
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
    const base = endpoint.endsWith('/') ? endpoint : `${endpoint}/`;
    await import(/* webpackIgnore: true */ /* @vite-ignore */ panelUrl || new URL('static/panel/huajia-panel.js', base).href);
    if (this.destroyed || this.panel) return; // removed, or opened twice, while it loaded
    const panel = document.createElement('huajia-panel');
    panel.setAttribute('endpoint', endpoint);
    if (apiKey) panel.setAttribute('api-key', apiKey);
    panel.setAttribute('lang', language);
    panel.setAttribute('closable', '');
    panel.addEventListener('huajia-insert', (event) => {
      this.options.onInsert(event.detail);
      this.close();
    });
    panel.addEventListener('huajia-close', () => this.close());
    this.dialog.replaceChildren(panel);
    this.panel = panel;
  }

  _showError(err) {
    const message = Object.assign(document.createElement('p'), { textContent: `Huajia: ${err?.message || err}` });
    message.setAttribute('role', 'alert');
    this.dialog.replaceChildren(message);
  }
}
