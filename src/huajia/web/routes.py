"""Routes for the browser side: the web app at `/`, its assets, the demo pages, CKEditor files.

Every file is served from a fixed folder through `_file_in`, which refuses anything that
resolves outside that folder, so no request path can reach the rest of the disk.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from huajia.errors import NotFound
from huajia.web.page_policy import page_headers

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
PAGES_DIR = WEB_DIR / "pages"

# Explicit types: the platform's mimetypes table differs between systems (.js, .mjs, .map).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}
# Browsers revalidate instead of trusting a stale panel after an upgrade.
NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def web_router(ckeditor_dist: Path | None, ckeditor_plugin: Path | None = None) -> APIRouter:
    """The browser routes; `ckeditor_dist` is CKEditor's `dist/browser` folder, if installed.

    `ckeditor_plugin` is the plugin package folder (holding `src/`); by default it is found
    above `ckeditor_dist`'s `node_modules`, or next to the source tree.
    """
    plugin_src = _plugin_source(ckeditor_dist, ckeditor_plugin)
    vendor = ckeditor_dist if ckeditor_dist is not None and ckeditor_dist.is_dir() else None
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def app_page() -> Response:
        return _page("app.html")

    @router.get("/admin/presets")
    def presets_page() -> Response:
        return _page("presets.html")

    @router.get("/batches")
    def batches_page() -> Response:
        return _page("batches.html")

    @router.get("/review")
    def review_page() -> Response:
        return _page("review.html")

    @router.get("/demo/panel")
    def panel_demo() -> Response:
        return _page("demo-panel.html")

    @router.get("/demo/ckeditor")
    def ckeditor_demo() -> Response:
        if vendor is None or plugin_src is None:
            return _page("ckeditor-missing.html", status_code=503)
        return _page("demo-ckeditor.html", editor=True)

    @router.get("/static/{path:path}")
    def static_file(path: str) -> Response:
        return _asset(STATIC_DIR, path)

    @router.get("/vendor/ckeditor5/translations/{path:path}")
    def ckeditor_translation(path: str) -> Response:
        return _asset(_required(vendor, "CKEditor 5").parent / "translations", path)

    @router.get("/vendor/ckeditor5/{path:path}")
    def ckeditor_file(path: str) -> Response:
        return _asset(_required(vendor, "CKEditor 5"), path)

    @router.get("/integrations/ckeditor5/src/{path:path}")
    def plugin_file(path: str) -> Response:
        return _asset(_required(plugin_src, "the CKEditor 5 plugin"), path)

    return router


def _plugin_source(dist: Path | None, plugin: Path | None, package: str = "ckeditor5"
                   ) -> Path | None:  # fmt: skip
    """The plugin's `src` folder: given, above node_modules, or in a source checkout."""
    candidates: list[Path] = []
    if plugin is not None:
        candidates.append(plugin / "src")
    if dist is not None and "node_modules" in dist.parts:
        installed = Path(*dist.parts[: dist.parts.index("node_modules")])
        candidates.append(installed / "src")
    # src/huajia/web -> repository root, where integrations/ lives in a checkout.
    candidates.append(WEB_DIR.parents[2] / "integrations" / package / "src")
    return next((path for path in candidates if path.is_dir()), None)


def _required(folder: Path | None, what: str, package: str = "ckeditor5") -> Path:
    if folder is None:
        raise NotFound(f"{what} is not installed: run `npm ci --prefix integrations/{package}`")
    return folder


def _page(name: str, status_code: int = 200, *, editor: bool = False) -> HTMLResponse:
    """A page from `pages/`, never to be framed, with the CSP its own markup needs."""
    html = (PAGES_DIR / name).read_text(encoding="utf-8")
    headers = {**NO_CACHE, **page_headers(html, editor=editor)}
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _asset(root: Path, path: str) -> FileResponse:
    file = _file_in(root, path)
    media_type = CONTENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
    return FileResponse(file, media_type=media_type, headers=NO_CACHE)


def _file_in(root: Path, path: str) -> Path:
    """`root/path` if it is a regular file inside `root`; NotFound for anything else."""
    parts = path.replace("\\", "/").split("/")
    if not path or "\x00" in path or any(part in ("", ".", "..") for part in parts):
        raise NotFound(f"no such file: {path!r}")
    base = root.resolve()
    try:
        candidate = (base / Path(*parts)).resolve()
        found = candidate.is_relative_to(base) and candidate.is_file()
    except OSError:  # a name too long for the file system, and the like: not a file we serve
        found = False
    if not found:
        raise NotFound(f"no such file: {path!r}")
    return candidate
