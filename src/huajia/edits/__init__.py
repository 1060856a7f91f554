"""Plain image edits: crop, crop to a CMS slot, resize, rotate, flip, colour, text overlays.

Pure Pillow and numpy, fast enough to answer synchronously in the API process (which must
never import torch). Each operation is a typed request (`EditOperation`, discriminated by
`kind`) applied by `apply_edit`; `describe_edit` gives the JSON for an image's lineage record.
"""

from huajia.edits.edit import apply_edit, apply_edits, normalise_mode, resolve_edit
from huajia.edits.focus import find_focus
from huajia.edits.font import FontFace, FontLibrary
from huajia.edits.operation import (
    EDITS_VERSION,
    MAX_EDITS,
    MAX_SIDE,
    Adjust,
    Crop,
    CropToSlot,
    EditOperation,
    Flip,
    FocusPoint,
    Resize,
    Rotate,
    TextOverlay,
    TextShadow,
    TextStroke,
    describe_edit,
    describe_edits,
)

__all__ = [
    "EDITS_VERSION",
    "MAX_EDITS",
    "MAX_SIDE",
    "Adjust",
    "Crop",
    "CropToSlot",
    "EditOperation",
    "Flip",
    "FocusPoint",
    "FontFace",
    "FontLibrary",
    "Resize",
    "Rotate",
    "TextOverlay",
    "TextShadow",
    "TextStroke",
    "apply_edit",
    "apply_edits",
    "describe_edit",
    "describe_edits",
    "find_focus",
    "normalise_mode",
    "resolve_edit",
]
