"""The layers import downwards only: nothing below the HTTP layer imports `huajia.api`,
`huajia.web` or `huajia.cli` (docs: ARCHITECTURE's "lower layers never import upper ones").

A worker process imports the generation, job and engine code; were any of it to reach into the
API, the worker would load FastAPI and the routes for nothing, and a change to a route's shape
would reach into the queue.
"""

from __future__ import annotations

import ast
import subprocess
import sys
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


def test_a_worker_or_command_building_its_parts_loads_no_http_layer() -> None:
    """`huajia worker`, `keys`, `purge` and `generate` take their store, image store and
    labeler from the composition root; FastAPI and the routes stay out of those processes."""
    probe = (
        "import sys, huajia.composition as c, huajia.cli.main;"
        "print(sorted(m for m in sys.modules if m == 'fastapi' or m.startswith('huajia.api')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60).stdout.strip()  # fmt: skip
    assert loaded == "[]", loaded
