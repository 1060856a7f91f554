import { Command } from 'ckeditor5';

import { IMAGE_ID, selectedImage } from './imageid.js';

/**
 * `huajiaEditImage`: open the Huajia panel on the selected image, and replace that image in
 * place (one undo step) with the result the editor picks. Enabled while an image is selected.
 */
export class HuajiaEditImageCommand extends Command {
  /** `open(element)` opens the panel on a model image element (the plugin's dialog). */
  constructor(editor, open) {
    super(editor);
    this._open = open;
  }

  refresh() {
    this.isEnabled = Boolean(selectedImage(this.editor)?.getAttribute('src'));
  }

  execute() {
    const element = selectedImage(this.editor);
    if (element) this._open(element);
  }
}

/** What the panel needs to start from an article image: its Huajia id if it has one, its URL. */
export function editSource(element) {
  const src = element.getAttribute('src');
  return {
    id: element.getAttribute(IMAGE_ID) || null,
    url: new URL(src, document.baseURI).href,
    width: Number(element.getAttribute('width')) || null,
    height: Number(element.getAttribute('height')) || null,
    alt: element.getAttribute('alt') || '',
  };
}

/**
 * Put `image` ({id, url, width, height}) in `element`'s place with `alt`, keeping its caption,
 * style and displayed size: one model change, so one undo step brings the old image back.
 */
export function replaceImage(editor, element, image, alt) {
  const { model } = editor;
  model.change((writer) => {
    writer.setAttribute('src', image.url, element);
    writer.setAttribute('alt', alt, element);
    // The old image's responsive sources would show the old picture.
    for (const stale of ['srcset', 'sizes', 'sources']) writer.removeAttribute(stale, element);
    for (const side of ['width', 'height']) {
      if (image[side] && model.schema.checkAttribute(element, side)) writer.setAttribute(side, String(image[side]), element);
      else writer.removeAttribute(side, element);
    }
    if (image.id && model.schema.checkAttribute(element, IMAGE_ID)) writer.setAttribute(IMAGE_ID, image.id, element);
    else writer.removeAttribute(IMAGE_ID, element);
  });
}
