"""The TinyMCE demo at `/demo/tinymce`: TinyMCE from the plugin package's npm install.

TinyMCE loads its theme, model, icons, skins and plugins relative to its own script, so its
whole package folder is served under `/vendor/tinymce/` (through `_asset`, which never leaves
that folder), and the plugin's sources under `/integrations/tinymce/src/`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from huajia.web.routes import _asset, _page, _plugin_source, _required

PACKAGE = "tinymce"


def tinymce_router(tinymce_dist: Path | None, plugin: Path | None = None) -> APIRouter:
    """Demo routes; `tinymce_dist` is the `tinymce` package folder, if installed.

    `plugin` is the plugin package folder (holding `src/`); by default it is found above
    `tinymce_dist`'s `node_modules`, or next to the source tree.
    """
    vendor = tinymce_dist if tinymce_dist is not None and tinymce_dist.is_dir() else None
    plugin_src = _plugin_source(vendor, plugin, PACKAGE)
    router = APIRouter(include_in_schema=False)

    @router.get("/demo/tinymce")
    def tinymce_demo() -> Response:
        if vendor is None or plugin_src is None:
            return _page("tinymce-missing.html", status_code=503)
        return _page("demo-tinymce.html", editor=True)

    @router.get("/vendor/tinymce/{path:path}")
    def tinymce_file(path: str) -> Response:
        return _asset(_required(vendor, "TinyMCE", PACKAGE), path)

    @router.get("/integrations/tinymce/src/{path:path}")
    def plugin_file(path: str) -> Response:
        return _asset(_required(plugin_src, "the TinyMCE plugin", PACKAGE), path)

    return router
