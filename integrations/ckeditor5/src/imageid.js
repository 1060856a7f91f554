// Which Huajia image an article image is: the `huajiaImageId` model attribute, kept in the
// article as `<img data-huajia-image-id="...">`, so "Edit with Huajia" can start from the
// service's own copy instead of downloading and uploading the picture again.

export const IMAGE_ID = 'huajiaImageId';
const DATA_ATTRIBUTE = 'data-huajia-image-id';
const IMAGE_TYPES = ['imageBlock', 'imageInline'];

/** Allow the attribute on the image elements the editor has, and convert it both ways. */
export function registerImageIdConversion(editor) {
  const { schema } = editor.model;
  const types = IMAGE_TYPES.filter((type) => schema.isRegistered(type));
  if (!types.length || !editor.plugins.has('ImageUtils')) return false;
  for (const type of types) schema.extend(type, { allowAttributes: [IMAGE_ID] });
  editor.conversion.for('upcast').attributeToAttribute({
    view: { name: 'img', key: DATA_ATTRIBUTE },
    model: { key: IMAGE_ID, value: (viewImage) => viewImage.getAttribute(DATA_ATTRIBUTE) },
  });
  const imageUtils = editor.plugins.get('ImageUtils');
  editor.conversion.for('downcast').add((dispatcher) => {
    for (const type of types) {
      // A block image is <figure><img></figure>: the id goes on the <img>, next to its src.
      dispatcher.on(`attribute:${IMAGE_ID}:${type}`, (event, data, conversionApi) => {
        if (!conversionApi.consumable.consume(data.item, event.name)) return;
        const img = imageUtils.findViewImgElement(conversionApi.mapper.toViewElement(data.item));
        if (!img) return;
        if (data.attributeNewValue) conversionApi.writer.setAttribute(DATA_ATTRIBUTE, data.attributeNewValue, img);
        else conversionApi.writer.removeAttribute(DATA_ATTRIBUTE, img);
      });
    }
  });
  return true;
}

/** The image element the selection is on (or inside, such as its caption), or null. */
export function selectedImage(editor) {
  if (!editor.plugins.has('ImageUtils')) return null;
  return editor.plugins.get('ImageUtils').getClosestSelectedImageElement(editor.model.document.selection) || null;
}
