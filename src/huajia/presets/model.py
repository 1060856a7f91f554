"""Style and size presets: what a CMS editor picks instead of typing parameters."""

from __future__ import annotations

import math
import re
from typing import Annotated, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huajia.text import Text

PROMPT_SLOT = "{prompt}"
SIZE_STEP = 16
# Size presets are written for a model whose default image is 1024x1024 (Z-Image).
REFERENCE_BASE = 1024
# A size may differ this much from its declared aspect ratio, since both sides are rounded.
_RATIO_TOLERANCE = 0.03

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PresetName = Annotated[str, Field(pattern=NAME_PATTERN.pattern)]
Labels = Annotated[dict[Text, Annotated[Text, Field(min_length=1)]], Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PresetDefaults(_Strict):
    """Parameters a style suggests; a request's own values always win."""

    steps: Annotated[int, Field(ge=1, le=200)] | None = None
    cfg_scale: Annotated[float, Field(ge=0.0, le=30.0)] | None = None
    width: Annotated[int, Field(gt=0, multiple_of=SIZE_STEP)] | None = None
    height: Annotated[int, Field(gt=0, multiple_of=SIZE_STEP)] | None = None

    def given(self) -> dict[str, int | float]:
        """Only the parameters this style sets, ready to merge under a request's own."""
        return {key: value for key, value in self.model_dump().items() if value is not None}


class StyleFields(_Strict):
    """Everything a style preset says but its name (the body of an edit)."""

    labels: Labels
    prompt_template: Text
    negative_prompt: Text = ""
    defaults: PresetDefaults = PresetDefaults()
    lora: PresetName | None = None
    lora_weight: Annotated[float, Field(ge=-4.0, le=4.0)] = 1.0
    # Cached results are private to the key that made them (a hit would reveal another
    # editor's prompt); a house style whose images everyone may reuse says so here.
    shared_cache: bool = False
    # Publishing policy read by review and provenance: None leaves it to the server default.
    review_required: bool | None = None
    visible_mark: bool | None = None

    @field_validator("prompt_template")
    @classmethod
    def _has_prompt_slot(cls, template: str) -> str:
        if PROMPT_SLOT not in template:
            raise ValueError(f"must contain {PROMPT_SLOT} where the user's prompt goes")
        return template


class StylePreset(StyleFields):
    """A named look: the user's prompt goes into `prompt_template` at `{prompt}`."""

    name: PresetName

    def label(self, locale: str) -> str:
        return _label(self.labels, locale, self.name)


class SizePreset(_Strict):
    """A CMS image slot: its aspect ratio and its size on a 1024-pixel model."""

    name: PresetName
    labels: Labels
    aspect_ratio: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$")]
    width: Annotated[int, Field(gt=0, multiple_of=SIZE_STEP)]
    height: Annotated[int, Field(gt=0, multiple_of=SIZE_STEP)]

    @model_validator(mode="after")
    def _size_matches_ratio(self) -> SizePreset:
        declared = self.ratio
        actual = self.width / self.height
        if abs(actual - declared) / declared > _RATIO_TOLERANCE:
            raise ValueError(
                f"{self.width}x{self.height} is not {self.aspect_ratio} "
                f"({actual:.3f} instead of {declared:.3f})"
            )
        return self

    @property
    def ratio(self) -> float:
        across, down = self.aspect_ratio.split(":")
        return int(across) / int(down)

    def label(self, locale: str) -> str:
        return _label(self.labels, locale, self.name)

    def scaled(self, limits_max: int, limits_min: int, multiple: int, base: int) -> SizePreset:
        """This slot on a model whose default image is `base` pixels square."""
        factor = base / REFERENCE_BASE
        width, height = self.width * factor, self.height * factor
        # Shrink to fit the longer side, then grow to fit the shorter, keeping the ratio;
        # when both cannot hold (a 3:1 banner on a small model), the limits win.
        shrink = min(1.0, limits_max / max(width, height))
        width, height = width * shrink, height * shrink
        grow = max(1.0, limits_min / min(width, height))
        width, height = width * grow, height * grow
        step = math.lcm(multiple, SIZE_STEP)
        return self.model_copy(
            update={
                "width": _on_grid(width, step, limits_min, limits_max),
                "height": _on_grid(height, step, limits_min, limits_max),
            }
        )


class ExpandedPrompt(NamedTuple):
    """A style applied to a user's prompt."""

    prompt: str
    negative_prompt: str
    defaults: dict[str, int | float]
    """Only the parameters the style sets (steps, cfg_scale, width, height)."""


def expand(preset: StylePreset, prompt: str) -> ExpandedPrompt:
    """The user's prompt placed in the style's template, with its negative prompt and defaults."""
    # str.replace, not str.format: a user's prompt may itself contain braces. Its closing
    # full stop is dropped because templates go on with their own punctuation.
    text = preset.prompt_template.replace(PROMPT_SLOT, prompt.strip().rstrip(".。"))
    return ExpandedPrompt(text.strip(), preset.negative_prompt.strip(), preset.defaults.given())


def _on_grid(value: float, step: int, low: int, high: int) -> int:
    lowest = math.ceil(low / step) * step
    highest = max(lowest, math.floor(high / step) * step)
    return min(highest, max(lowest, round(value / step) * step))


def _label(labels: dict[str, str], locale: str, fallback: str) -> str:
    # Exact locale, then the same language ("zh" or "zh-TW" finds "zh-CN"), then English.
    if locale in labels:
        return labels[locale]
    language = locale.split("-")[0].lower()
    for key, text in labels.items():
        if key.split("-")[0].lower() == language:
            return text
    return labels.get("en") or next(iter(labels.values()), fallback)
