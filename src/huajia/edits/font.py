"""Fonts for text overlays: found on disk, checked for the characters they can really draw.

A font without a glyph draws its "tofu" box (.notdef) instead, which a user would only notice
after publishing; so a font is chosen only when every character differs from that box, and text
no font can draw is refused up front.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont, features

from huajia.errors import InvalidRequest

_NOTO_CJK = Path("/usr/share/fonts/opentype/noto")
_TRUETYPE = Path("/usr/share/fonts/truetype")
_FONT_SUFFIXES = {".ttf", ".otf", ".ttc"}
_PROBE_SIZE = 24
# A private-use code point no font we know maps, so it renders as the font's .notdef box.
_UNMAPPED = "\U0010fffd"
_CJK_RANGES = (
    (0x2E80, 0x2FDF),  # radicals
    (0x3000, 0x30FF),  # CJK punctuation, kana
    (0x3100, 0x31FF),  # bopomofo, kana extensions
    (0x3400, 0x4DBF),  # extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xAC00, 0xD7AF),  # hangul
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms
    (0x20000, 0x3FFFF),  # supplementary ideographs
)


@dataclass(frozen=True)
class FontFace:
    """One face of a font file; `path=None` stands for Pillow's built-in (Latin) font."""

    path: Path | None
    index: int = 0
    bold: bool = False


KNOWN_FACES: tuple[FontFace, ...] = (
    # Face 2 of Debian's fonts-noto-cjk collections is Simplified Chinese (JP, KR, SC, TC, HK).
    FontFace(_NOTO_CJK / "NotoSansCJK-Regular.ttc", 2),
    FontFace(_NOTO_CJK / "NotoSansCJK-Bold.ttc", 2, bold=True),
    FontFace(_TRUETYPE / "wqy" / "wqy-zenhei.ttc"),
    FontFace(_TRUETYPE / "wqy" / "wqy-microhei.ttc"),
    FontFace(_TRUETYPE / "noto" / "NotoSans-Regular.ttf"),
    FontFace(_TRUETYPE / "noto" / "NotoSans-Bold.ttf", bold=True),
    FontFace(_TRUETYPE / "dejavu" / "DejaVuSans.ttf"),
    FontFace(_TRUETYPE / "dejavu" / "DejaVuSans-Bold.ttf", bold=True),
    FontFace(_TRUETYPE / "liberation" / "LiberationSans-Regular.ttf"),
    FontFace(_TRUETYPE / "liberation" / "LiberationSans-Bold.ttf", bold=True),
)
BUILT_IN = FontFace(None)


class FontLibrary:
    """Font faces in order of preference, and which characters each of them can draw.

    Build one at start-up and share it: it remembers what it has checked. Safe across threads.
    """

    def __init__(self, faces: Sequence[FontFace]) -> None:
        self.faces = tuple(faces)
        self._coverage: dict[FontFace, dict[str, bool]] = {}
        self._probes: dict[FontFace, tuple[ImageFont.FreeTypeFont, bytes] | None] = {}
        # FreeType faces are not thread-safe, and the probe fonts are shared.
        self._lock = threading.Lock()

    @classmethod
    def discover(cls, fonts_dir: Path | None = None) -> FontLibrary:
        """Fonts in `fonts_dir` first, then the known system fonts present, then Pillow's own."""
        found = [*folder_faces(fonts_dir)] if fonts_dir is not None else []
        found += [face for face in KNOWN_FACES if face.path is not None and face.path.is_file()]
        if features.check("freetype2"):
            found.append(BUILT_IN)
        return cls(found)

    def font_for(self, text: str, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
        """A `size` px font that draws every character of `text`, in the asked weight if any."""
        wanted = {char for char in text if not char.isspace()}
        best_missing = wanted
        # Faces of the asked weight first; sorting is stable, so preference order holds.
        for face in sorted(self.faces, key=lambda face: face.bold != bold):
            with self._lock:
                missing = {char for char in wanted if not self._draws(face, char)}
            if not missing:
                return load_font(face, size)
            if len(missing) < len(best_missing):
                best_missing = missing
        raise InvalidRequest(no_font_message(best_missing))

    def _draws(self, face: FontFace, char: str) -> bool:
        known = self._coverage.setdefault(face, {})
        if char not in known:
            probe = self._probe(face)
            known[char] = probe is not None and _glyph(probe[0], char) != probe[1]
        return known[char]

    def _probe(self, face: FontFace) -> tuple[ImageFont.FreeTypeFont, bytes] | None:
        if face not in self._probes:
            try:
                font = load_font(face, _PROBE_SIZE)
            except OSError:
                self._probes[face] = None  # unreadable file: it draws nothing
            else:
                self._probes[face] = (font, _glyph(font, _UNMAPPED))
        return self._probes[face]


def folder_faces(folder: Path) -> list[FontFace]:
    """The font files directly in `folder`, by name; "bold" in a name marks a bold face."""
    if not folder.is_dir():
        return []
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in _FONT_SUFFIXES)
    return [FontFace(path, bold="bold" in path.stem.lower()) for path in files]


def load_font(face: FontFace, size: int) -> ImageFont.FreeTypeFont:
    """The face at `size` px; OSError when its file cannot be read as a font."""
    if face.path is None:
        font = ImageFont.load_default(size)
        if not isinstance(font, ImageFont.FreeTypeFont):
            raise OSError("Pillow was built without FreeType")
        return font
    return ImageFont.truetype(str(face.path), size, index=face.index)


def no_font_message(missing: Iterable[str]) -> str:
    chars = "".join(sorted(missing))
    chars = chars if len(chars) <= 12 else chars[:12] + "…"
    if any(is_cjk(char) for char in chars):
        return f"no font for {chars!r}: install fonts-noto-cjk"
    return f"no font for {chars!r}"


def is_cjk(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _CJK_RANGES)


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    mask = font.getmask(char)
    width, height = (int(side) for side in mask.size)
    return width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes(mask)
