"""What the service's endpoints do, free of BentoML: check and decode images, read them through the page
reader with recognition delegated to the batched recognizer, and answer in the API's shapes.

bentos/service.py maps HTTP to these calls; any other front end (a test, another server) can use them too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PIL import Image

from ocrops.errors import ErrorCode, OcropsError
from ocrops.inference.inputs import PayloadLimits, decode_base64, open_image
from ocrops.inference.pages import Mode, PageReader
from ocrops.inference.runtime import DETECTOR_FILE, read_package
from ocrops.inference.types import Prediction
from ocrops.serving.protocols import chat_completion, chat_image, layout_parsing
from ocrops.serving.settings import ServeSettings

log = logging.getLogger("ocrops.service")

# encoded images up to this size are decoded on the event loop (under a millisecond)
INLINE_DECODE_BYTES = 64_000
# recognition of line crops (RGB images): {"text", "confidence"} or {"error"} each
Recognize = Callable[[list[Image.Image]], Awaitable[list[dict[str, Any]]]]


class OcrApi:
    def __init__(self, model_root: str | Path, settings: ServeSettings, recognize: Recognize) -> None:
        self.settings, self._remote = settings, recognize
        self.info, self.post = read_package(model_root)
        detector = Path(model_root) / DETECTOR_FILE
        self.pages = PageReader(margin=settings.crop_margin, unclip_ratio=settings.unclip_ratio,
                                merge_gap=settings.merge_gap, detector_model=detector if detector.exists() else None)
        self.limits = PayloadLimits(settings.max_image_bytes, settings.max_side, settings.max_pixels)
        self.model_name = self.info["mlflow"]["name"]
        if settings.log_content:
            log.warning("serve.log_content is on: every answer, OCR text included, goes to the log")

    # -- helpers -----------------------------------------------------------------------------------

    def model(self) -> dict[str, Any]:
        m = self.info["mlflow"]
        return {"name": m["name"], "version": str(m["version"]), "alias": m["alias"]}

    def chat_model(self, asked: str) -> str:
        """The model a chat request names, if it is this one: the registered name, NAME@ALIAS, or one of
        ``serve.chat_models``; 4002 naming the served model otherwise (no answer under another model's name)."""
        m = self.info["mlflow"]
        accepted = {m["name"], f"{m['name']}@{m['alias']}", *self.settings.chat_models}
        if not asked:
            return m["name"]
        if asked not in accepted:
            others = ", ".join(sorted(accepted - {m["name"]}))
            raise OcropsError(ErrorCode.INVALID_INPUT,
                              f"model {asked[:60]!r} is not served here; this service serves {m['name']!r} "
                              f"(also: {others})")
        return asked

    def switches(self, postprocess: bool | None, redact_pii: bool | None) -> tuple[bool | None, bool | None]:
        if (postprocess is not None or redact_pii is not None) and not self.settings.postprocess_override:
            raise OcropsError(ErrorCode.INVALID_INPUT,
                              "per-request post-processing switches are disabled on this service")
        return postprocess, redact_pii

    async def recognize(self, crops: list[Image.Image]) -> list[Prediction]:
        """The crops through the batched recognizer, in calls of at most ``engine_batch_size`` lines sent
        together, so that the batcher interleaves them with other requests' lines and a page of any size fits
        its batches; the recognizer's errors keep their codes."""
        size = self.settings.engine_batch_size
        try:
            parts = await asyncio.gather(*(self._remote(crops[i : i + size]) for i in range(0, len(crops), size)))
        except OcropsError:
            raise
        except Exception as exc:  # the recognizer process failed, restarted or is unreachable
            log.exception("request to the recognizer failed")
            raise OcropsError(ErrorCode.UNAVAILABLE,
                              f"recognizer unavailable ({type(exc).__name__}); retry later") from exc
        readings = [r for part in parts for r in part]
        for r in readings:
            if "error" in r:
                raise OcropsError(ErrorCode(r["error"]["code"]), r["error"]["message"])
        return [Prediction(r["text"], float(r["confidence"])) for r in readings]

    async def read(self, images: list[Image.Image], mode: Mode, correct: bool | None, redact_pii: bool | None,
                   timings: dict, started: float) -> list[dict]:
        """Detection and recognition within MODEL_TIMEOUT counted from ``started`` (5004)."""
        left = self.settings.timeout_s - (time.perf_counter() - started)
        try:
            return await asyncio.wait_for(
                self.pages.read_async(images, self.recognize, mode, self.post, correct, redact_pii, timings,
                                      max_lines=self.settings.max_lines), max(left, 0.001))
        except TimeoutError as exc:
            raise OcropsError(ErrorCode.TIMEOUT, f"reading took longer than {self.settings.timeout_s:g} s") from exc

    async def decode(self, image: str | None, file: Path | None = None, content_type: str | None = None
                     ) -> Image.Image:
        if file is not None:
            # only a multipart upload makes ``file`` a server-side temporary file; in JSON it would be a path
            # chosen by the client
            if not (content_type or "").startswith("multipart/form-data"):
                raise OcropsError(ErrorCode.INVALID_INPUT, "'file' must be a multipart/form-data upload")
            data = await asyncio.to_thread(Path(file).read_bytes)
        elif image:
            data = decode_base64(image, self.limits)
        else:
            raise OcropsError(ErrorCode.INVALID_INPUT, "send an image: multipart field 'file' or base64 'image'")
        if len(data) <= INLINE_DECODE_BYTES:  # a line image decodes faster than a hop to a thread and back
            return open_image(data, self.limits)
        return await asyncio.to_thread(open_image, data, self.limits)

    def logged(self, request_id: str, answer: dict) -> dict:
        if self.settings.log_content:  # an explicit debugging switch: the text may be personal data
            log.info("content request_id=%s answer=%s", request_id, json.dumps(answer, ensure_ascii=False)[:4000])
        return answer

    # -- endpoints ---------------------------------------------------------------------------------

    async def ocr(self, request_id: str, image: str | None, file: Path | None, content_type: str | None,
                  mode: Mode, postprocess: bool | None, redact_pii: bool | None) -> dict[str, Any]:
        started = time.perf_counter()
        correct, redact = self.switches(postprocess, redact_pii)
        picture = await self.decode(image, file, content_type)
        timings = {"decode_ms": (time.perf_counter() - started) * 1000}
        result = (await self.read([picture], mode, correct, redact, timings, started))[0]
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return self.logged(request_id, {
            "request_id": request_id, **result, "width": picture.width, "height": picture.height,
            "model": self.model(), "timings": {k: round(v, 2) for k, v in timings.items()}})

    async def ocr_batch(self, request_id: str, images: list[str], mode: Mode, postprocess: bool | None,
                        redact_pii: bool | None) -> dict[str, Any]:
        started = time.perf_counter()
        if not images:
            raise OcropsError(ErrorCode.INVALID_INPUT, "images is empty")
        if len(images) > self.settings.max_images:
            raise OcropsError(ErrorCode.TOO_LARGE, f"{len(images)} images exceed {self.settings.max_images}")
        correct, redact = self.switches(postprocess, redact_pii)
        pictures = [await self.decode(text) for text in images]
        timings = {"decode_ms": (time.perf_counter() - started) * 1000}
        results = await self.read(pictures, mode, correct, redact, timings, started)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return self.logged(request_id, {"request_id": request_id, "results": results, "model": self.model(),
                                        "timings": {k: round(v, 2) for k, v in timings.items()}})

    async def chat_completions(self, request_id: str, messages: list[dict[str, Any]], model: str,
                               stream: bool) -> dict[str, Any]:
        if stream:
            raise OcropsError(ErrorCode.INVALID_INPUT, "stream=true is not supported")
        served = self.chat_model(model)
        started = time.perf_counter()
        picture = await self.decode(chat_image(messages))
        result = (await self.read([picture], "auto", None, None, {}, started))[0]
        return self.logged(request_id, chat_completion(result["text"], served, request_id))

    async def layout_parsing(self, request_id: str, file: str, model: str) -> dict[str, Any]:
        if file.startswith(("http://", "https://")):
            raise OcropsError(ErrorCode.INVALID_INPUT, "send the file as a data: URI; URLs are not fetched")
        if file.startswith("data:application/pdf"):
            raise OcropsError(ErrorCode.UNREADABLE_IMAGE, "PDF is not supported; send PNG or JPEG pages")
        started = time.perf_counter()
        picture = await self.decode(file)
        result = (await self.read([picture], "page", None, None, {}, started))[0]
        return self.logged(request_id, layout_parsing(result, picture.width, picture.height,
                                                      model or self.model_name, request_id))
