"""Text overlays: Chinese really drawn (no tofu), placed where asked, with shadow and stroke."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from huajia.edits import FontFace, FontLibrary, TextOverlay, TextShadow, TextStroke, apply_edit
from huajia.edits.font import KNOWN_FACES
from huajia.errors import InvalidRequest
from tests.edits.pictures import array, changed

NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
needs_cjk_font = pytest.mark.skipif(not NOTO_CJK.is_file(), reason="fonts-noto-cjk not installed")
needs_dejavu = pytest.mark.skipif(not DEJAVU.is_file(), reason="fonts-dejavu-core not installed")
GREY = (128, 128, 128)


@pytest.fixture(scope="module")
def fonts() -> FontLibrary:
    return FontLibrary.discover()


def grey(width: int = 400, height: int = 200) -> Image.Image:
    return Image.new("RGB", (width, height), GREY)


def drawn(text: str, fonts: FontLibrary, **fields: object) -> Image.Image:
    return apply_edit(grey(), TextOverlay.model_validate({"text": text, **fields}), fonts=fonts)


@needs_cjk_font
def test_chinese_text_is_drawn_in_its_colour(fonts: FontLibrary) -> None:
    result = drawn("你好世界", fonts, colour="#ff0000", anchor="center", size=0.2)
    pixels = array(result)
    touched = changed(grey(), result)
    assert touched.sum() > 1000
    assert ((pixels[..., 0] > 240) & (pixels[..., 1] < 15) & (pixels[..., 2] < 15)).sum() > 200
    rows, cols = np.nonzero(touched)
    assert 60 < rows.mean() < 140 and 140 < cols.mean() < 260


@needs_cjk_font
def test_different_chinese_characters_draw_different_glyphs_not_tofu(fonts: FontLibrary) -> None:
    # A font without the glyphs would draw the same .notdef box for every character.
    zhong = changed(grey(), drawn("中", fonts, anchor="center", size=0.5))
    guo = changed(grey(), drawn("国", fonts, anchor="center", size=0.5))
    assert (zhong ^ guo).sum() > 0.3 * (zhong | guo).sum()


def test_characters_no_font_can_draw_are_refused(fonts: FontLibrary) -> None:
    with pytest.raises(InvalidRequest, match="no font for"):
        drawn("private \U0010fffd use", fonts)


@needs_dejavu
def test_without_a_cjk_font_latin_works_and_chinese_is_refused_clearly() -> None:
    latin_only = FontLibrary([FontFace(DEJAVU)])
    latin = drawn("Hello", latin_only, colour="#ff0000")
    assert changed(grey(), latin).sum() > 100
    with pytest.raises(InvalidRequest, match="install fonts-noto-cjk"):
        drawn("你好 Hello", latin_only)


@pytest.mark.parametrize(
    ("anchor", "rows", "cols"),
    [
        ("bottom-right", slice(100, 200), slice(200, 400)),
        ("top-left", slice(0, 100), slice(0, 200)),
        ("top-right", slice(0, 100), slice(200, 400)),
        ("bottom-left", slice(100, 200), slice(0, 200)),
        ("top", slice(0, 100), slice(100, 300)),
        ("bottom", slice(100, 200), slice(100, 300)),
        ("left", slice(50, 150), slice(0, 200)),
    ],
)
def test_anchors_place_the_text_in_their_region(
    fonts: FontLibrary, anchor: str, rows: slice, cols: slice
) -> None:
    touched = changed(grey(), drawn("Sale 促销", fonts, anchor=anchor, size=0.12))
    inside = touched[rows, cols].sum()
    assert inside > 100
    assert inside == touched.sum()


def test_x_and_y_put_the_anchor_point_of_the_text_there(fonts: FontLibrary) -> None:
    touched = changed(grey(), drawn("Hi", fonts, anchor="center", x=0.25, y=0.75, size=0.15))
    rows, cols = np.nonzero(touched)
    assert abs(cols.mean() - 100) < 15 and abs(rows.mean() - 150) < 15


def test_text_placed_past_the_edge_is_kept_inside(fonts: FontLibrary) -> None:
    touched = changed(grey(), drawn("Edge", fonts, anchor="left", x=1.0, y=0.5, size=0.15))
    cols = np.nonzero(touched)[1]
    assert cols.size > 0 and cols.max() < 400 and cols.min() > 250


def test_a_shadow_draws_a_second_colour(fonts: FontLibrary) -> None:
    plain = array(drawn("Shadow 阴影", fonts, anchor="center", size=0.2))
    shaded = array(
        drawn(
            "Shadow 阴影", fonts, anchor="center", size=0.2,
            shadow={"colour": "#000000", "dx": 0.1, "dy": 0.1, "blur": 0.02},
        )
    )  # fmt: skip
    assert (plain.max(axis=-1) > 240).sum() > 200  # the white text
    assert (plain.max(axis=-1) < 40).sum() == 0
    assert (shaded.max(axis=-1) > 240).sum() > 200
    assert (shaded.max(axis=-1) < 40).sum() > 200


def test_a_stroke_outlines_the_text_in_its_colour(fonts: FontLibrary) -> None:
    stroke = TextStroke(colour="#00ff00", width=0.08)
    outlined = array(drawn("Stroke", fonts, anchor="center", size=0.2, stroke=stroke))
    green = (outlined[..., 1] > 240) & (outlined[..., 0] < 20) & (outlined[..., 2] < 20)
    assert green.sum() > 200
    assert (outlined.min(axis=-1) > 240).sum() > 100  # the white fill is still there


def test_a_translucent_colour_blends_with_the_image(fonts: FontLibrary) -> None:
    black = Image.new("RGB", (400, 200), (0, 0, 0))
    op = TextOverlay(text="█ Half", colour="#ff000080", size=0.3, anchor="center")
    red = array(apply_edit(black, op, fonts=fonts))[..., 0]
    assert 120 <= red.max() <= 135


def test_lines_break_at_newlines_and_wrap_to_the_width(fonts: FontLibrary) -> None:
    one_line = changed(grey(), drawn("ABC", fonts, anchor="top-left", size=0.1))
    three_lines = changed(grey(), drawn("A\nB\nC", fonts, anchor="top-left", size=0.1))
    assert np.nonzero(three_lines)[0].max() > np.nonzero(one_line)[0].max() + 30

    sentence = "Editors rarely publish the first image they get from the model " * 2
    wrapped = changed(grey(), drawn(sentence, fonts, anchor="top-left", size=0.08, margin=0.05))
    rows, cols = np.nonzero(wrapped)
    assert cols.min() >= 8 and cols.max() <= 392
    assert rows.max() - rows.min() > 3 * 16


@needs_cjk_font
def test_chinese_wraps_between_characters(fonts: FontLibrary) -> None:
    text = "这是一段很长的中文标题需要换行显示在图片上面不能出现方块"
    touched = changed(grey(), drawn(text, fonts, anchor="top", size=0.1, margin=0.05))
    rows, cols = np.nonzero(touched)
    assert cols.min() >= 8 and cols.max() <= 392
    assert rows.max() - rows.min() > 2 * 20


def test_modes_are_kept(fonts: FontLibrary) -> None:
    op = TextOverlay(text="Mode", size=0.2)
    clear = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    result = apply_edit(clear, op, fonts=fonts)
    assert result.mode == "RGBA"
    assert array(result)[..., 3].max() == 255  # the text is opaque on a clear image
    assert apply_edit(Image.new("L", (200, 100), 50), op, fonts=fonts).mode == "RGB"


@needs_dejavu
def test_a_fonts_folder_comes_first_and_broken_files_are_skipped(tmp_path: Path) -> None:
    shutil.copy(DEJAVU, tmp_path / "Brand.ttf")
    (tmp_path / "AAA-broken.ttf").write_bytes(b"not a font")
    library = FontLibrary.discover(tmp_path)
    assert library.faces[0].path == tmp_path / "AAA-broken.ttf"
    font = library.font_for("Brand", 20)
    assert font.path == str(tmp_path / "Brand.ttf")


def test_bold_asks_for_a_bold_face_where_there_is_one() -> None:
    library = FontLibrary.discover()
    if not any(face.bold for face in library.faces):
        pytest.skip("no bold font installed")
    assert "Bold" in str(library.font_for("Bold", 20, bold=True).getname()[1])
    assert "Bold" not in str(library.font_for("Regular", 20).getname()[1])


def test_known_faces_name_the_simplified_chinese_noto_face() -> None:
    noto = next(face for face in KNOWN_FACES if face.path == NOTO_CJK)
    if not NOTO_CJK.is_file():
        pytest.skip("fonts-noto-cjk not installed")
    library = FontLibrary([noto])
    assert library.font_for("中文", 20).getname()[0] == "Noto Sans CJK SC"


@pytest.mark.parametrize(
    "fields",
    [
        {"text": ""},
        {"text": "   \n "},
        {"text": "x" * 1001},
        {"text": "tab\there"},
        {"text": "hi", "x": 0.5},
        {"text": "hi", "size": 0.1, "size_px": 20},
        {"text": "hi", "size": 0.9},
        {"text": "hi", "colour": "white"},
        {"text": "hi", "anchor": "middle"},
        {"text": "hi", "shadow": {"blur": 2}},
        {"text": "hi", "stroke": {"width": 0}},
    ],
)
def test_text_requests_out_of_bounds_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TextOverlay.model_validate(fields)


def test_windows_line_breaks_are_plain_newlines() -> None:
    assert TextOverlay(text="a\r\nb\rc").text == "a\nb\nc"
    assert TextShadow().colour == "#000000b3"
