"""The edit operations as typed requests: one pydantic model per kind, one discriminated union.

Every bound here keeps a synchronous request cheap: no output side above `MAX_SIDE`, no text
longer than `MAX_TEXT_CHARS`. Sizes that depend on the image (a crop box that must fit, a
resize whose other side follows the aspect) are checked when the edit is applied.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

MAX_SIDE = 4096
# Inputs may be larger than anything we produce (an upload), so positions get more room.
MAX_INPUT_SIDE = 16384
MAX_TEXT_CHARS = 1000
MAX_EDITS = 16
EDITS_VERSION = 1

Colour = Annotated[str, StringConstraints(pattern=r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Anchor = Literal[
    "top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom",
    "bottom-right",
]  # fmt: skip
Alignment = Literal["left", "center", "right"]
Factor = Annotated[float, Field(ge=0.0, le=3.0)]
# Shadow and stroke sizes are in ems (fractions of the font size) so one recipe looks the same
# on a 1024 px image and on its 2048 px upscale.
Em = Annotated[float, Field(ge=-1.0, le=1.0)]

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def rgba(colour: str) -> tuple[int, int, int, int]:
    """`#rrggbb` or `#rrggbbaa` as an RGBA tuple (opaque when no alpha is given)."""
    digits = colour.removeprefix("#")
    alpha = int(digits[6:8], 16) if len(digits) == 8 else 255
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), alpha


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Crop(_Edit):
    """Cut out a box given in pixels of the image being edited."""

    kind: Literal["crop"] = "crop"
    left: int = Field(ge=0, le=MAX_INPUT_SIDE)
    top: int = Field(ge=0, le=MAX_INPUT_SIDE)
    width: Side
    height: Side


class FocusPoint(_Edit):
    """A point of the image as fractions of its width (x) and height (y)."""

    x: Fraction
    y: Fraction


class CropToSlot(_Edit):
    """Fill an exact slot (a CMS's social card, a 16:9 cover) around a focus point.

    Without a focus the most salient region of the image is kept, not its centre.
    """

    kind: Literal["crop_to_slot"] = "crop_to_slot"
    width: Side
    height: Side
    focus: FocusPoint | None = None


class Resize(_Edit):
    """Scale to a width and/or height; with only one given the aspect is kept."""

    kind: Literal["resize"] = "resize"
    width: Side | None = None
    height: Side | None = None

    @model_validator(mode="after")
    def _one_side_at_least(self) -> Resize:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self


class Rotate(_Edit):
    """Turn clockwise; quarter turns are exact, other angles resample and fill the corners."""

    kind: Literal["rotate"] = "rotate"
    angle: float = Field(ge=-360.0, le=360.0, description="degrees clockwise")
    expand: bool = Field(True, description="grow the canvas to keep the corners (free angles)")
    fill: Colour | None = Field(None, description="corner colour; black, or clear for RGBA")


class Flip(_Edit):
    kind: Literal["flip"] = "flip"
    direction: Literal["horizontal", "vertical"]


class Adjust(_Edit):
    """Colour adjustments; factors of 1 and a warmth of 0 leave the pixels unchanged."""

    kind: Literal["adjust"] = "adjust"
    brightness: Factor = 1.0
    contrast: Factor = 1.0
    saturation: Factor = 1.0
    warmth: float = Field(0.0, ge=-1.0, le=1.0, description="> 0 warmer (red), < 0 cooler")

    @property
    def is_neutral(self) -> bool:
        return (self.brightness, self.contrast, self.saturation, self.warmth) == (1, 1, 1, 0)


class TextShadow(_Edit):
    colour: Colour = "#000000b3"
    dx: Em = 0.06
    dy: Em = 0.06
    blur: Annotated[float, Field(ge=0.0, le=1.0)] = 0.08


class TextStroke(_Edit):
    colour: Colour = "#000000"
    width: Annotated[float, Field(gt=0.0, le=0.3)] = 0.06


class TextOverlay(_Edit):
    """A line (or lines) of Chinese or Latin text drawn over the image.

    Placed at a named anchor inset by `margin`, or with the anchor's point of the text block at
    (x, y). Lines longer than the image (less its margins) are wrapped.
    """

    kind: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    anchor: Anchor = "bottom"
    margin: float = Field(0.05, ge=0.0, le=0.4, description="fraction of the shorter side")
    x: Fraction | None = None
    y: Fraction | None = None
    size: float | None = Field(None, ge=0.01, le=0.5, description="fraction of image height")
    size_px: int | None = Field(None, ge=6, le=1024)
    colour: Colour = "#ffffff"
    align: Alignment | None = Field(None, description="line alignment; follows the anchor")
    bold: bool = False
    shadow: TextShadow | None = None
    stroke: TextStroke | None = None

    @field_validator("text")
    @classmethod
    def _printable(cls, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if _CONTROL.search(text):
            raise ValueError("text may contain line breaks but no other control characters")
        if not text.strip():
            raise ValueError("text is blank")
        return text

    @model_validator(mode="after")
    def _consistent(self) -> TextOverlay:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y, or neither")
        if self.size is not None and self.size_px is not None:
            raise ValueError("give size or size_px, not both")
        return self


EditOperation = Annotated[
    Crop | CropToSlot | Resize | Rotate | Flip | Adjust | TextOverlay,
    Field(discriminator="kind"),
]


def describe_edit(op: EditOperation) -> dict[str, object]:
    """The operation as JSON-ready parameters, complete with defaults (for lineage records)."""
    return op.model_dump(mode="json")


def describe_edits(ops: list[EditOperation]) -> dict[str, object]:
    """A versioned record of a sequence of edits, in the order they were applied."""
    return {"version": EDITS_VERSION, "edits": [describe_edit(op) for op in ops]}
