"""Editing in the panel: vary, crop to a slot, colours, the mask brush; and in CKEditor 5,
"Edit with Huajia" replacing an article's image in place as one undo step."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.browser.conftest import RESULT_TIMEOUT_MS, record_progress, result_button, screenshot
from tests.support.server import ServerProcess

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

BANNER = (448, 144)  # the "banner" slot of the default presets
Point = tuple[float, float]  # fractions of an element's width and height


def generate_one(scope: Any, prompt: str) -> None:
    """One square image (256×256 on the tiny model), shown as image 1."""
    scope.get_by_label("Prompt", exact=True).fill(prompt)
    scope.get_by_label("Size", exact=True).select_option("square")
    scope.get_by_role("radio", name="1", exact=True).check()
    scope.get_by_role("button", name="Generate", exact=True).click()
    expect(result_button(scope, 1)).to_be_visible(timeout=RESULT_TIMEOUT_MS)


def edit_result(scope: Any, index: int) -> None:
    scope.get_by_role("button", name=re.compile(rf"^Edit: Image {index}, seed")).click()
    expect(scope.get_by_role("heading", name=f"Edit image {index}")).to_be_focused()


def edit_section(page: Any) -> Any:
    return page.locator("huajia-panel section.edit")


def stage_image(page: Any) -> Any:
    return page.locator("huajia-panel .stage img")


def alpha_at(canvas: Any, x: float, y: float) -> int:
    """The mask canvas's opacity at (x, y), fractions of its size: > 0 where painted."""
    return int(
        canvas.evaluate(
            """(c, [x, y]) => c.getContext('2d', { willReadFrequently: true })
                 .getImageData(Math.floor(c.width * x), Math.floor(c.height * y), 1, 1).data[3]""",
            [x, y],
        )
    )


def on_screen(element: Any, x: float, y: float) -> tuple[float, float]:
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    return box["x"] + box["width"] * x, box["y"] + box["height"] * y


def mouse_stroke(page: Any, canvas: Any, start: Point, end: Point) -> None:
    page.mouse.move(*on_screen(canvas, *start))
    page.mouse.down()
    page.mouse.move(*on_screen(canvas, *end), steps=8)
    page.mouse.up()


def touch_stroke(page: Any, canvas: Any, start: Point, end: Point) -> None:
    """A finger dragged across the canvas: real touch input, arriving as pointerType 'touch'."""
    cdp = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = on_screen(canvas, *start), on_screen(canvas, *end)

    def touch(kind: str, points: list[dict[str, float]]) -> None:
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", [{"x": x0, "y": y0}])
    for step in range(1, 9):
        touch("touchMove", [{"x": x0 + (x1 - x0) * step / 8, "y": y0 + (y1 - y0) * step / 8}])
    touch("touchEnd", [])
    cdp.detach()


def test_vary_crop_to_a_slot_and_adjust_colours_in_the_web_app(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/")
    generate_one(page, "A lighthouse on a cliff at dawn")
    edit_result(page, 1)

    # Vary: a model edit with progress like a generation; the result is marked as an edit.
    page.get_by_role("button", name="Vary", exact=True).click()
    prompt = page.get_by_label("Describe the result")
    expect(prompt).to_have_value("A lighthouse on a cliff at dawn")
    page.get_by_label("Strength").fill("0.4")
    record_progress(page)
    with page.expect_request(re.compile(r"/api/v1/generate$")) as sent:
        page.get_by_role("button", name="Generate a variation").click()
    assert sent.value.post_data_json["operation"] == "image_to_image"
    assert sent.value.post_data_json["strength"] == 0.4
    variation = result_button(page, 2)
    expect(variation).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(variation).to_have_accessible_name(re.compile(r"Variation, edit of image 1$"))
    expect(variation).to_be_focused()
    expect(page.get_by_role("status").first).to_have_text("Done: 1 image(s)")
    assert page.evaluate("window.__steps"), "the variation showed no progress steps"

    # Crop to a slot around a point dragged on the image: exactly the slot's size.
    page.get_by_role("button", name="Crop to a slot").click()
    page.get_by_label("Slot").select_option("banner")
    expect(edit_section(page).get_by_text("Result: 448×144.")).to_be_visible()
    stage = page.locator("huajia-panel .stage")
    page.mouse.move(*on_screen(stage, 0.5, 0.5))
    page.mouse.down()
    page.mouse.move(*on_screen(stage, 0.5, 0.8), steps=4)
    page.mouse.up()
    expect(page.get_by_label("Point on the image")).to_be_checked()
    marker = page.get_by_role("button", name=re.compile("^Focus point"))
    expect(marker).to_be_focused()
    page.keyboard.press("ArrowUp")
    screenshot(page, "23-crop-to-slot", edit_section(page))
    with page.expect_request(re.compile(r"/edits$")) as sent:
        page.get_by_role("button", name="Crop the image").click()
    edit = sent.value.post_data_json["edits"][0]
    assert (edit["kind"], edit["width"], edit["height"]) == ("crop_to_slot", *BANNER)
    assert edit["focus"]["x"] == pytest.approx(0.5, abs=0.05)
    assert edit["focus"]["y"] == pytest.approx(0.78, abs=0.05)
    cropped = result_button(page, 3)
    expect(cropped).to_have_accessible_name(re.compile(r"Cropped to a slot, edit of image 1$"))
    expect(page.get_by_role("status").first).to_have_text("Edited: image 3 added")
    # The section carries on with the new image, which has the slot's exact size.
    expect(page.get_by_role("heading", name="Edit image 3")).to_be_visible()
    expect(stage_image(page)).to_have_js_property("naturalWidth", BANNER[0])
    expect(stage_image(page)).to_have_js_property("naturalHeight", BANNER[1])

    # Adjust colours: a live CSS preview, then the service applies the same values.
    page.get_by_role("button", name="Adjust colours").click()
    page.get_by_label("Brightness").fill("1.3")
    page.get_by_label("Warmth").fill("0.5")
    expect(stage_image(page)).to_have_css("filter", re.compile(r"brightness\(1\.3\).*url"))
    screenshot(page, "20-edit-tools", page.locator("huajia-panel section.results"))
    with page.expect_request(re.compile(r"/edits$")) as sent:
        page.get_by_role("button", name="Apply the colours").click()
    edit = sent.value.post_data_json["edits"][0]
    assert edit == {
        "kind": "adjust",
        "brightness": 1.3,
        "contrast": 1,
        "saturation": 1,
        "warmth": 0.5,
    }
    expect(result_button(page, 4)).to_have_accessible_name(
        re.compile(r"Colours adjusted, edit of image 3$")
    )
    expect(page.get_by_label("Brightness")).to_have_value("1")  # applied: the preview is reset

    # Any image of the gallery opens in the same tools; the tools speak Chinese too.
    gallery = page.locator("huajia-gallery")
    gallery.get_by_role("button", name="Edit: A lighthouse on a cliff at dawn").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Edit image \d+$"))).to_be_focused()
    page.get_by_label("Language").select_option("zh-CN")
    tools = [
        "生成变体",
        "局部重绘",
        "扩展到版位",
        "放大 2 倍",
        "裁剪到版位",
        "调整颜色",
        "添加文字",
    ]
    for name in tools:
        expect(edit_section(page).get_by_role("button", name=name, exact=True)).to_be_visible()


def test_mask_brush_with_mouse_touch_and_keys_then_repaint_the_area(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_page(huajia.url + "/demo/panel", has_touch=True)
    generate_one(page, "A bowl of fruit on a table")
    edit_result(page, 1)
    page.get_by_role("button", name="Edit an area").click()
    canvas = page.locator("huajia-panel canvas.mask")
    expect(canvas).to_have_js_property("width", 256)  # the image's own size, not the display's

    mouse_stroke(page, canvas, (0.15, 0.2), (0.4, 0.25))
    expect(canvas).to_have_attribute("data-strokes", "1")
    touch_stroke(page, canvas, (0.7, 0.55), (0.75, 0.85))
    expect(canvas).to_have_attribute("data-strokes", "2")
    assert alpha_at(canvas, 0.3, 0.22) > 0 and alpha_at(canvas, 0.72, 0.7) > 0
    screenshot(page, "21-mask-brush", edit_section(page))

    page.get_by_role("button", name="Undo stroke").click()
    expect(canvas).to_have_attribute("data-strokes", "1")
    assert alpha_at(canvas, 0.72, 0.7) == 0, "undo should remove the touch stroke"
    assert alpha_at(canvas, 0.3, 0.22) > 0, "undo should keep the mouse stroke"

    # Keyboard: the arrow keys move the brush, held Space paints.
    canvas.focus()
    page.keyboard.down(" ")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    page.keyboard.up(" ")
    expect(canvas).to_have_attribute("data-strokes", "2")
    assert alpha_at(canvas, 0.5, 0.55) > 0
    page.get_by_role("button", name="Undo stroke").click()
    expect(canvas).to_have_attribute("data-strokes", "1")

    with (
        page.expect_response(re.compile(r"/api/v1/uploads$")) as uploaded,
        page.expect_request(re.compile(r"/api/v1/generate$")) as sent,
    ):
        page.get_by_role("button", name="Repaint the area").click()
    mask = uploaded.value.json()
    assert (mask["width"], mask["height"]) == (256, 256)
    assert sent.value.post_data_json["operation"] == "inpaint"
    assert sent.value.post_data_json["mask_image_id"] == mask["id"]
    pixels = httpx.get(huajia.url + mask["url"], timeout=10).content
    with Image.open(io.BytesIO(pixels)) as image:
        grey = image.convert("L")
        assert grey.getpixel((77, 56)) == 255  # under the mouse stroke: repaint
        assert grey.getpixel((184, 180)) == 0  # the undone touch stroke: keep
    expect(result_button(page, 2)).to_have_accessible_name(
        re.compile(r"Area repainted, edit of image 1$"), timeout=RESULT_TIMEOUT_MS
    )


def open_editor(open_page: Any, url: str) -> Any:
    page = open_page(url)
    if page.get_by_role("heading", name="CKEditor 5 is not installed").count():
        pytest.skip("CKEditor 5 is not installed: npm ci --prefix integrations/ckeditor5")
    expect(page.locator("body[data-editor-ready=true]")).to_be_attached()
    return page


def article_image(page: Any) -> dict[str, str | None]:
    return dict(
        page.evaluate(
            """() => { const img = new DOMParser().parseFromString(editor.getData(), 'text/html')
                 .querySelector('img');
               return { src: img.getAttribute('src'), alt: img.getAttribute('alt'),
                        id: img.getAttribute('data-huajia-image-id') }; }"""
        )
    )


def test_edit_with_huajia_replaces_the_image_in_ckeditor_as_one_undo_step(
    huajia: ServerProcess, open_page: Any
) -> None:
    page = open_editor(open_page, huajia.url + "/demo/ckeditor?lang=en")
    page.get_by_role("button", name="Generate image").click()
    dialog = page.get_by_role("dialog", name="Generate image")
    generate_one(dialog, "A paper boat on a pond")
    dialog.get_by_role("button", name="Insert", exact=True).click()
    expect(dialog).to_be_hidden()
    original = article_image(page)
    assert original["id"] and re.fullmatch(r"[0-9a-f]{32}", original["id"]), original

    page.locator(".ck-content img").click()
    edit_button = page.get_by_role("button", name="Edit with Huajia")
    expect(edit_button).to_be_enabled()
    screenshot(page, "22-ckeditor-edit-button", page.locator(".ck-editor"))
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/uploads") else None)
    edit_button.click()
    dialog = page.get_by_role("dialog", name="Edit with Huajia")
    expect(dialog.get_by_role("heading", name=re.compile(r"^Edit image \d+$"))).to_be_focused()
    dialog.get_by_role("button", name="Edit an area").click()
    mouse_stroke(page, dialog.locator("canvas.mask"), (0.3, 0.3), (0.7, 0.6))
    dialog.get_by_label("Describe the result").fill("A paper boat with a red sail")
    dialog.get_by_role("button", name="Repaint the area").click()
    edited_name = re.compile(r"^Image \d+, .*Area repainted, edit of image \d+$")
    edited = dialog.get_by_role("button", name=edited_name)
    expect(edited).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(edited).to_have_attribute("aria-pressed", "true")
    assert len(uploads) == 1, "the Huajia image is edited by its id: only the mask is uploaded"
    dialog.get_by_role("button", name="Replace image").click()
    expect(dialog).to_be_hidden()

    replaced = article_image(page)
    assert replaced["src"] != original["src"]
    assert re.match(rf"{re.escape(huajia.url)}/generated-images/", replaced["src"] or "")
    assert replaced["id"] != original["id"] and replaced["alt"] == original["alt"]
    expect(page.locator(".ck-content img")).to_have_attribute("src", replaced["src"] or "")
    page.evaluate("editor.execute('undo')")
    assert article_image(page) == original


def test_an_ordinary_image_of_the_article_is_uploaded_then_replaced(
    huajia: ServerProcess, open_page: Any
) -> None:
    png = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 120, 200)).save(png, format="PNG")
    photo = httpx.post(
        f"{huajia.url}/api/v1/uploads", files={"file": ("photo.png", png.getvalue())}, timeout=10
    ).json()
    page = open_editor(open_page, huajia.url + "/demo/ckeditor?lang=en")
    src = huajia.url + photo["url"]
    page.evaluate(
        "src => editor.setData(`<figure class='image'><img src='${src}' alt='Harbour'></figure>`)",
        src,
    )
    page.locator(".ck-content img").click()
    with page.expect_response(re.compile(r"/api/v1/uploads$")) as uploaded:
        page.get_by_role("button", name="Edit with Huajia").click()
    assert uploaded.value.status == 201  # its bytes were read in the browser and uploaded
    dialog = page.get_by_role("dialog", name="Edit with Huajia")
    dialog.get_by_role("button", name="Crop to a slot").click()
    dialog.get_by_label("Slot").select_option("banner")
    dialog.get_by_role("button", name="Crop the image").click()
    dialog.get_by_role("button", name="Replace image").click()
    expect(dialog).to_be_hidden()

    replaced = article_image(page)
    assert replaced["src"] != src and replaced["alt"] == "Harbour" and replaced["id"]
    article_img = page.locator(".ck-content img")
    expect(article_img).to_have_js_property("naturalWidth", BANNER[0])
    expect(article_img).to_have_js_property("naturalHeight", BANNER[1])
    page.keyboard.press("Control+z")
    assert article_image(page) == {"src": src, "alt": "Harbour", "id": None}
