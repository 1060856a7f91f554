"""The preset catalog: the shipped TOML file, overlaid by an optional file of the user's."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from huajia.engine.models import ModelDefaults, ModelLimits
from huajia.errors import InvalidRequest, UnknownPreset
from huajia.presets.model import ExpandedPrompt, SizePreset, StylePreset, expand

SHIPPED_FILE = "default_presets.toml"
_SECTIONS = ("styles", "sizes")
P = TypeVar("P", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True)
class PresetCatalog:
    """Every style and size preset by name, in the order they were declared."""

    styles: dict[str, StylePreset] = field(default_factory=dict)
    sizes: dict[str, SizePreset] = field(default_factory=dict)

    def get(self, name: str) -> StylePreset:
        """The style preset called `name`; UnknownPreset lists the known ones."""
        return _find(self.styles, name, "style")

    def get_size(self, name: str) -> SizePreset:
        """The size preset called `name`; UnknownPreset lists the known ones."""
        return _find(self.sizes, name, "size")

    def sizes_for(
        self, limits_max: int, limits_min: int, multiple: int, base: int
    ) -> list[SizePreset]:
        """Every size preset rescaled to a model's default resolution `base` and its limits."""
        if not 0 < limits_min <= limits_max or multiple < 1 or base < 1:
            raise InvalidRequest(
                f"impossible size limits: min {limits_min}, max {limits_max}, "
                f"multiple {multiple}, base {base}"
            )
        return [size.scaled(limits_max, limits_min, multiple, base) for size in self.sizes.values()]

    def expand(self, preset: StylePreset, prompt: str) -> ExpandedPrompt:
        """`prompt` in the style's template, with its negative prompt and defaults."""
        return expand(preset, prompt)

    def describe(self, limits: ModelLimits, defaults: ModelDefaults) -> dict[str, Any]:
        """The catalog as JSON for the editor's panel, sizes scaled to the served model."""
        base = round(math.sqrt(defaults.width * defaults.height))
        sizes = self.sizes_for(limits.max_size, limits.min_size, limits.size_multiple, base)
        return {
            "presets": [_style_json(style) for style in self.styles.values()],
            "sizes": [size.model_dump() for size in sizes],
        }


def load_presets(path: Path | None = None) -> PresetCatalog:
    """The shipped presets, with those in `path` (if given) added or replacing them by name."""
    shipped_text = resources.files("huajia.presets").joinpath(SHIPPED_FILE).read_text("utf-8")
    catalog = _parse(shipped_text, f"<shipped {SHIPPED_FILE}>")
    if path is None:
        return catalog
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"cannot read presets file {path}: {error}") from error
    extra = _parse(text, str(path))
    return PresetCatalog(
        styles={**catalog.styles, **extra.styles}, sizes={**catalog.sizes, **extra.sizes}
    )


def _style_json(style: StylePreset) -> dict[str, Any]:
    described = style.model_dump(exclude={"defaults"})
    described["defaults"] = style.defaults.given()
    return described


def _parse(text: str, source: str) -> PresetCatalog:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidRequest(f"presets file {source} is not valid TOML: {error}") from error
    unknown = sorted(set(document) - set(_SECTIONS))
    if unknown:
        raise InvalidRequest(
            f"presets file {source}: unknown section(s) {', '.join(unknown)}; "
            "expected [styles.NAME] and [sizes.NAME] tables"
        )
    styles = _section(document.get("styles", {}), source, "styles", StylePreset)
    sizes = _section(document.get("sizes", {}), source, "sizes", SizePreset)
    return PresetCatalog(styles=styles, sizes=sizes)


def _section(tables: Any, source: str, section: str, kind: type[P]) -> dict[str, P]:
    if not isinstance(tables, dict):
        raise InvalidRequest(f"presets file {source}: [{section}] must hold NAME tables")
    return {name: _preset(name, table, source, section, kind) for name, table in tables.items()}


def _preset(name: str, table: Any, source: str, section: str, kind: type[P]) -> P:
    where = f"presets file {source}: {section}.{name}"
    if not isinstance(table, dict):
        raise InvalidRequest(f"{where} must be a table of fields")
    if "name" in table:
        raise InvalidRequest(f"{where}: remove 'name', the table heading names the preset")
    try:
        return kind.model_validate({**table, "name": name})
    except ValidationError as error:
        raise InvalidRequest(f"{where}: {_problems(error)}") from error


def _problems(error: ValidationError) -> str:
    messages = []
    for problem in error.errors():
        field_path = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        messages.append(f"{field_path}: {message}" if field_path else message)
    return "; ".join(messages)


def _find(presets: dict[str, T], name: str, kind: str) -> T:
    if name in presets:
        return presets[name]
    known = ", ".join(presets) or "none"
    raise UnknownPreset(f"unknown {kind} preset {name!r}; known {kind} presets: {known}")
