"""The web page at ``/``: drop an image, see the text and where each line was found; and the API explorer.

A plain Starlette app (the page, its script and style under ``/ui/``, the page's settings at
``/ui/config.json``, the explorer at ``/docs``) that the Bento mounts next to its APIs; the page itself calls
``POST /ocr``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ocrops.data.images import FORMAT_NAMES
from ocrops.inference.pages import LINE_MAX_HEIGHT, LINE_MIN_ASPECT

STATIC = Path(__file__).parent / "static"
# the page's files are small and change with the wheel; a stale cached script would talk to a newer API
NO_CACHE = {"Cache-Control": "no-cache"}


def page_config(settings, api_keys_enabled: bool) -> dict:
    """What the page needs to know before it uploads: limits, the preview size, the line rule."""
    return {"max_image_bytes": settings.max_image_bytes, "max_side": settings.max_side,
            "max_pixels": settings.max_pixels, "preview_side": settings.web_preview_side,
            "line_max_height": LINE_MAX_HEIGHT, "line_min_aspect": LINE_MIN_ASPECT,
            "api_key_required": api_keys_enabled, "formats": f"{FORMAT_NAMES.replace(' or ', ', ')} or PDF"}


def web_app(settings, api_keys_enabled: bool = False) -> Starlette:
    """``/``: the web page (``serve.web_ui``; off: the API explorer); ``/docs``: the API explorer, Swagger UI
    from the BentoML wheel with no third-party script (BentoML's own page loads a tag manager)."""
    config = page_config(settings, api_keys_enabled)

    async def index(_request) -> Response:
        return FileResponse(STATIC / ("index.html" if settings.web_ui else "docs.html"), headers=NO_CACHE)

    async def config_json(_request) -> Response:
        return JSONResponse(config, headers=NO_CACHE)

    async def docs(_request) -> Response:
        return FileResponse(STATIC / "docs.html", headers=NO_CACHE)

    return Starlette(routes=[
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/docs", docs, methods=["GET", "HEAD"]),
        Route("/ui/config.json", config_json, methods=["GET"]),
        Mount("/ui", StaticFiles(directory=STATIC), name="ui"),
    ])
