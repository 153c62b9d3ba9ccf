"""The web page's app as the Bento mounts it: its routes, the settings the page reads, and what it leaves to
the APIs (the page itself runs in Chromium in tests/e2e/test_web_ui.py)."""

from __future__ import annotations

from starlette.testclient import TestClient

from ocrops.inference.pages import LINE_MAX_HEIGHT
from ocrops.serving.settings import ServeSettings
from ocrops.serving.webui import web_app


def test_the_page_its_files_and_its_settings():
    settings = ServeSettings(max_image_bytes=1234, max_side=900, web_preview_side=512)
    with TestClient(web_app(settings, api_keys_enabled=True)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "ui/app.js" in page.text and "ui/style.css" in page.text
        assert "javascript" in client.get("/ui/app.js").headers["content-type"]
        assert client.get("/ui/style.css").status_code == 200
        config = client.get("/ui/config.json").json()
        assert config == {"max_image_bytes": 1234, "max_side": 900, "max_pixels": settings.max_pixels,
                          "preview_side": 512, "line_max_height": LINE_MAX_HEIGHT, "line_min_aspect": 2,
                          "api_key_required": True, "formats": "PNG, JPEG, TIFF, WebP, BMP, HEIC/HEIF, AVIF or PDF"}
        assert client.get("/ui/../__init__.py").status_code == 404  # no way out of the static folder


def test_the_page_knows_every_error_code_the_service_sends():
    from ocrops.errors import ErrorCode
    from ocrops.serving.webui import STATIC

    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"{int(code)}:" in script, f"no message for {int(code)} on the page"
