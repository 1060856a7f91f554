"""Style and size presets: the shipped catalog, user overrides, expansion and scaling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from huajia.engine.models import builtin_models, tiny_spec
from huajia.errors import InvalidRequest, UnknownPreset
from huajia.presets.catalog import PresetCatalog, load_presets
from huajia.presets.model import StylePreset, expand

SEED_STYLES = {
    "photorealistic": "写实摄影",
    "illustration": "插画",
    "anime": "动漫",
    "oil_painting": "油画",
}
CMS_SIZES = {"cover": "16:9", "square": "1:1", "portrait": "3:4", "banner": "3:1"}


@pytest.fixture(scope="module")
def shipped() -> PresetCatalog:
    return load_presets(None)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "presets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_has_the_seed_panels_four_styles(shipped: PresetCatalog) -> None:
    assert {name: style.label("zh-CN") for name, style in shipped.styles.items()} == SEED_STYLES
    for style in shipped.styles.values():
        assert style.label("en")
        assert "{prompt}" in style.prompt_template
        assert len(style.negative_prompt) > 40


def test_shipped_sizes_are_the_cms_slots_on_a_16_pixel_grid(shipped: PresetCatalog) -> None:
    assert {name: size.aspect_ratio for name, size in shipped.sizes.items()} == CMS_SIZES
    for size in shipped.sizes.values():
        assert size.width % 16 == 0
        assert size.height % 16 == 0
        assert size.width / size.height == pytest.approx(size.ratio, rel=0.03)
        assert 0.8e6 < size.width * size.height < 1.3e6  # about one megapixel, like 1024x1024


def test_expand_places_the_prompt_and_brings_the_negative(shipped: PresetCatalog) -> None:
    expanded = expand(shipped.get("oil_painting"), "  西湖边的一座小桥  ")
    assert expanded.prompt.startswith("西湖边的一座小桥. ")
    assert "oil painting" in expanded.prompt
    assert "{prompt}" not in expanded.prompt
    assert "photograph" in expanded.negative_prompt
    assert expanded.defaults == {}


def test_expand_keeps_braces_in_the_users_prompt() -> None:
    style = StylePreset(
        name="plain", labels={"en": "Plain"}, prompt_template="poster: {prompt}", negative_prompt=""
    )
    assert expand(style, "a sign reading {sale} 50% {prompt}").prompt == (
        "poster: a sign reading {sale} 50% {prompt}"
    )


def test_expand_returns_the_styles_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[styles.brand]
labels = { en = "Brand look" }
prompt_template = "{prompt}, in our brand colours"
lora = "brand-v2"
lora_weight = 0.8
[styles.brand.defaults]
steps = 12
cfg_scale = 3.5
""",
    )
    style = load_presets(path).get("brand")
    prompt, negative, defaults = expand(style, "a teapot")
    assert (prompt, negative) == ("a teapot, in our brand colours", "")
    assert defaults == {"steps": 12, "cfg_scale": 3.5}
    assert (style.lora, style.lora_weight) == ("brand-v2", 0.8)


def test_user_file_adds_and_overrides_by_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[styles.anime]
labels = { "zh-CN" = "国风动漫", en = "Chinese anime" }
prompt_template = "{prompt}, guofeng anime style"

[sizes.wechat_header]
labels = { "zh-CN" = "公众号头图", en = "WeChat header" }
aspect_ratio = "47:20"
width = 1504
height = 640
""",
    )
    catalog = load_presets(path)
    assert catalog.get("anime").label("zh-CN") == "国风动漫"
    assert catalog.get("anime").negative_prompt == ""  # replaced whole, not merged
    assert catalog.get("photorealistic").label("zh-CN") == "写实摄影"
    assert list(catalog.sizes) == ["cover", "square", "portrait", "banner", "wechat_header"]
    assert list(catalog.styles)[2] == "anime"  # an override keeps its place in the panel


def test_unknown_style_lists_the_known_ones(shipped: PresetCatalog) -> None:
    with pytest.raises(UnknownPreset) as caught:
        shipped.get("watercolour")
    message = caught.value.message
    assert "'watercolour'" in message
    for name in SEED_STYLES:
        assert name in message
    assert caught.value.status == 422


def test_unknown_size_lists_the_known_ones(shipped: PresetCatalog) -> None:
    with pytest.raises(UnknownPreset, match="cover, square, portrait, banner"):
        shipped.get_size("poster")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[styles.flat]\nlabels = { en = "Flat" }\nprompt_template = "flat colours"',
            r"styles\.flat: prompt_template: must contain \{prompt\}",
        ),
        (
            '[styles.flat]\nlabels = { en = "Flat" }\nprompt_template = "{prompt}"\nsampler = "x"',
            r"styles\.flat: sampler: unknown field",
        ),
        (
            '[styles.flat]\nlabels = { en = "F" }\nprompt_template = "{prompt}"\n'
            "[styles.flat.defaults]\nwidth = 1000",
            r"styles\.flat: defaults\.width: .*multiple of 16",
        ),
        (
            '[sizes.odd]\nlabels = { en = "Odd" }\naspect_ratio = "1:1"\n'
            "width = 1000\nheight = 1000",
            r"sizes\.odd: width: .*multiple of 16",
        ),
        (
            '[sizes.wrong]\nlabels = { en = "W" }\naspect_ratio = "16:9"\n'
            "width = 1024\nheight = 1024",
            r"sizes\.wrong: 1024x1024 is not 16:9",
        ),
        (
            '[sizes.flat]\nlabels = { en = "F" }\naspect_ratio = "wide"\nwidth = 32\nheight = 16',
            r"sizes\.flat: aspect_ratio",
        ),
        ("[styles.x]\nlabels = {}\nprompt_template = '{prompt}'", r"styles\.x: labels"),
        ("[filters.blur]\nradius = 2", r"unknown section\(s\) filters"),
        ("[styles.Bad Name]\nlabels = { en = 'x' }\nprompt_template = '{prompt}'", r"name"),
        ("[styles.x\nlabels = 1", r"not valid TOML"),
        (
            "[styles.x]\nname = 'y'\nlabels = { en = 'x' }\nprompt_template = '{prompt}'",
            r"styles\.x: remove 'name'",
        ),
    ],
)
def test_bad_file_names_the_file_and_the_preset(tmp_path: Path, toml: str, expected: str) -> None:
    path = _write(tmp_path, toml)
    with pytest.raises(InvalidRequest, match=expected) as caught:
        load_presets(path)
    assert str(path) in caught.value.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot read presets file"):
        load_presets(tmp_path / "nope.toml")


def test_sizes_on_z_image_are_the_declared_sizes(shipped: PresetCatalog) -> None:
    sizes = shipped.sizes_for(2048, 256, 16, 1024)
    assert [(s.name, s.width, s.height) for s in sizes] == [
        ("cover", 1280, 720),
        ("square", 1024, 1024),
        ("portrait", 864, 1152),
        ("banner", 1776, 592),
    ]


def test_sizes_on_the_tiny_model_shrink_with_the_ratio_kept(shipped: PresetCatalog) -> None:
    for size in shipped.sizes_for(1024, 64, 16, 256):
        assert size.width % 16 == 0
        assert size.height % 16 == 0
        assert min(size.width, size.height) >= 64
        assert max(size.width, size.height) <= 1024
        assert size.width / size.height == pytest.approx(size.ratio, rel=0.1)
        assert 40_000 < size.width * size.height < 90_000  # about 256x256


def test_sizes_stay_inside_tight_limits(shipped: PresetCatalog) -> None:
    for size in shipped.sizes_for(512, 256, 16, 256):
        assert 256 <= size.width <= 512
        assert 256 <= size.height <= 512
        assert size.width % 16 == 0
        assert size.height % 16 == 0
    banner = shipped.sizes_for(512, 256, 16, 256)[3]
    assert (banner.width, banner.height) == (512, 256)  # 3:1 cannot fit: limits win


def test_sizes_respect_a_coarser_model_grid(shipped: PresetCatalog) -> None:
    for size in shipped.sizes_for(2048, 256, 64, 1024):
        assert size.width % 64 == 0
        assert size.height % 64 == 0


def test_impossible_limits_are_refused(shipped: PresetCatalog) -> None:
    with pytest.raises(InvalidRequest, match="impossible size limits"):
        shipped.sizes_for(256, 512, 16, 1024)


def test_label_falls_back_to_english_then_any(shipped: PresetCatalog) -> None:
    anime = shipped.get("anime")
    assert anime.label("zh") == "动漫"
    assert anime.label("zh-TW") == "动漫"
    assert anime.label("fr-FR") == "Anime"
    only_chinese = StylePreset(name="x", labels={"zh-CN": "仅中文"}, prompt_template="{prompt}")
    assert only_chinese.label("de") == "仅中文"


def test_catalog_expand_matches_the_function(shipped: PresetCatalog) -> None:
    style = shipped.get("anime")
    assert shipped.expand(style, "一只猫") == expand(style, "一只猫")


def test_describe_gives_the_panel_labels_and_model_sizes(shipped: PresetCatalog) -> None:
    tiny = tiny_spec("/models/tiny")
    described = shipped.describe(tiny.limits, tiny.defaults)
    assert [style["name"] for style in described["presets"]] == list(SEED_STYLES)
    assert described["presets"][0]["labels"]["zh-CN"] == "写实摄影"
    assert described["presets"][0]["defaults"] == {}
    square = next(size for size in described["sizes"] if size["name"] == "square")
    assert (square["width"], square["height"]) == (256, 256)
    turbo = builtin_models()["z-image-turbo"]
    cover = shipped.describe(turbo.limits, turbo.defaults)["sizes"][0]
    assert (cover["name"], cover["width"], cover["height"]) == ("cover", 1280, 720)
    assert json.loads(json.dumps(described)) == described
