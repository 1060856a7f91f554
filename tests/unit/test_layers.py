"""The layers import downwards only: nothing below the HTTP layer imports `huajia.api`,
`huajia.web` or `huajia.cli` (docs: ARCHITECTURE's "lower layers never import upper ones").

A worker process imports the generation, job and engine code; were any of it to reach into the
API, the worker would load FastAPI and the routes for nothing, and a change to a route's shape
would reach into the queue.
"""

from __future__ import annotations

import ast
from pathlib import Path

import huajia

SRC = Path(huajia.__file__).parent
UPPER = ("huajia.api", "huajia.web", "huajia.cli", "huajia.composition")
# The entry points and the composition root wire the layers together; everything else is lower.
WIRING = {"api", "web", "cli", "composition.py", "__main__.py", "migrations"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_lower_layer_imports_the_api_web_or_cli() -> None:
    lower = [path for path in SRC.rglob("*.py")
             if path.relative_to(SRC).parts[0] not in WIRING]  # fmt: skip
    assert len(lower) > 50, "the source tree was found"
    upward = {
        f"{path.relative_to(SRC)} imports {name}"
        for path in lower
        for name in imported(path)
        if name in UPPER or name.startswith(tuple(f"{layer}." for layer in UPPER))
    }
    assert not upward, sorted(upward)
