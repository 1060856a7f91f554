"""/demo/tinymce without TinyMCE installed: a clear page saying how to install it, no 500s."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.server import start_huajia


def test_the_tinymce_demo_explains_how_to_install_tinymce_when_it_is_missing(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    env = {"HUAJIA_TINYMCE_DIST_DIR": str(tmp_path / "no-tinymce-here")}
    server = start_huajia(tmp_path / "data", tiny_model_dir, env, ["--no-worker"])
    try:
        page = httpx.get(f"{server.url}/demo/tinymce", timeout=10)
        assert page.status_code == 503
        assert "TinyMCE is not installed" in page.text
        assert "npm ci --prefix integrations/tinymce" in page.text
        vendor = httpx.get(f"{server.url}/vendor/tinymce/tinymce.min.js", timeout=10)
        assert vendor.status_code == 404
        assert "npm ci --prefix integrations/tinymce" in vendor.json()["error"]["message"]
        # The plugin's own files are in the checkout either way.
        plugin = httpx.get(f"{server.url}/integrations/tinymce/src/index.js", timeout=10)
        assert plugin.status_code == 200
        assert plugin.headers["content-type"].startswith("text/javascript")
    finally:
        server.stop()
