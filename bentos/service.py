"""The ocrops Bento: an HTTP API service in front of an adaptively batched recognizer.

``OCR`` (the API, CPU) decodes and checks images, finds the lines of full pages, and sends every line to
``Recognizer`` (the model, one GPU where there is one), whose ``recognize`` BentoML batches across
concurrent requests. Settings: the ``serve`` section of params.yaml, OCROPS_SERVE_* variables override.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Literal

import bentoml
import numpy as np
from PIL import Image

from ocrops.errors import ErrorCode, OcropsError
from ocrops.serving.http import REQUEST_ID, Gatekeeper, error_response
from ocrops.serving.inputs import PayloadLimits, decode_base64, open_image
from ocrops.serving.settings import load_settings

log = logging.getLogger("ocrops.service")
SETTINGS = load_settings(Path(__file__).resolve().parents[1] / "params.yaml")
MODEL = bentoml.models.BentoModel(f"{SETTINGS.bento}-model:latest")
# BentoML's own deadline per call stays well behind MODEL_TIMEOUT, which the API enforces with its 5004
SERVER_TIMEOUT_S = max(1, math.ceil(SETTINGS.timeout_s * 3))


def _log_like_bentoml() -> None:
    """ocrops' loggers write where BentoML's do (BentoML configures its own logger in each worker)."""
    ours, theirs = logging.getLogger("ocrops"), logging.getLogger("bentoml")
    ours.setLevel(logging.INFO)
    for handler in theirs.handlers:
        if handler not in ours.handlers:
            ours.addHandler(handler)
    ours.propagate = False


@bentoml.service(
    name=f"{SETTINGS.bento}-recognizer",
    resources={"gpu": 1},  # the scheduler gives the model one GPU; CPU-only machines get a warning
    workers=1,
    traffic={"timeout": SERVER_TIMEOUT_S},
    # BentoML 1.4.39 replaces the caller's connection pool after max_requests / max_age and closes the old
    # one under requests still in flight on it (they fail with "Server disconnected"); keep one pool
    runner_connection={"max_requests": 2**31, "max_age": 10.0**9},
    logging={"access": {"enabled": False}},  # an internal hop; the API logs each request once
)
class Recognizer:
    """The packaged model on the best engine this machine has; warmed up before it says it is ready."""

    model_ref = MODEL

    def __init__(self) -> None:
        from ocrops.serving.metrics import service_metrics
        from ocrops.serving.runtime import PackagedModel

        _log_like_bentoml()
        self.ready = False
        self.model = PackagedModel(self.model_ref.path, engine=SETTINGS.engine,
                                   max_new_tokens=SETTINGS.glm_ocr_max_new_tokens,
                                   token_budget=SETTINGS.glm_ocr_token_budget,
                                   threads=SETTINGS.engine_threads or None)
        self.metrics = service_metrics()
        log.info("serving %s on %s (skipped: %s)", self.model.version, self.model.engine_name, self.model.skipped)
        self.model.warm_up(SETTINGS.warmup_batches, SETTINGS.engine_batch_size)
        self.metrics.model_info.labels(**{k: str(v) for k, v in self.model.version.items()}).set(1)
        self.ready = True

    def __is_ready__(self) -> bool:
        return self.ready

    # max_batch_size 1 turns adaptive batching off: each request's lines are one model call
    @bentoml.api(batchable=SETTINGS.max_batch_size > 1, max_batch_size=max(2, SETTINGS.max_batch_size),
                 max_latency_ms=SETTINGS.max_latency_ms)
    def recognize(self, lines: list[np.ndarray]) -> list[dict[str, Any]]:
        """Line images (RGB uint8 arrays) -> [{"text", "confidence"}]; a failed batch answers
        {"error": {...}} per line."""
        self.metrics.batch_size.observe(len(lines))
        try:
            predictions = self.model.read([Image.fromarray(a) for a in lines],
                                          batch_size=SETTINGS.engine_batch_size)
        except OcropsError as exc:
            return [{"error": exc.to_dict()}] * len(lines)
        return [{"text": p.text, "confidence": float(p.confidence)} for p in predictions]

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        return {**self.model.version, "skipped_engines": self.model.skipped}


@bentoml.service(
    name=SETTINGS.bento,
    workers=SETTINGS.workers,
    traffic={"timeout": SERVER_TIMEOUT_S},
    http={"port": 3000},
    # ocrops.access logs one line per request instead: request id, hashed client, status, time; no content
    logging={"access": {"enabled": False}},
)
class OCR:
    recognizer = bentoml.depends(Recognizer)
    model_ref = MODEL

    def __init__(self) -> None:
        from ocrops.models.ppocr.detector import TextDetector
        from ocrops.postprocess import Postprocessor
        from ocrops.serving.runtime import PACKAGE_FILE, POSTPROCESS_FILE

        _log_like_bentoml()
        root = Path(self.model_ref.path)
        self.info = json.loads((root / PACKAGE_FILE).read_text(encoding="utf-8"))
        self.post = Postprocessor.load(root / POSTPROCESS_FILE)
        self.detector = TextDetector()
        self.limits = PayloadLimits(SETTINGS.max_image_bytes, SETTINGS.max_side, SETTINGS.max_pixels)
        self.model_name = self.info["mlflow"]["name"]
        if SETTINGS.log_content:
            log.warning("serve.log_content is on: every answer, OCR text included, goes to the log")

    # -- helpers -----------------------------------------------------------------------------------

    def _model(self) -> dict[str, Any]:
        m = self.info["mlflow"]
        return {"name": m["name"], "version": str(m["version"]), "alias": m["alias"]}

    def _switches(self, postprocess: bool | None, redact_pii: bool | None) -> tuple[bool | None, bool | None]:
        if (postprocess is not None or redact_pii is not None) and not SETTINGS.postprocess_override:
            raise OcropsError(ErrorCode.MALFORMED_REQUEST,
                              "per-request post-processing switches are disabled on this service")
        return postprocess, redact_pii

    async def _read(self, images: list[Image.Image], mode: str, correct, redact_pii, timings: dict) -> list[dict]:
        """Every image's lines through the batched recognizer, within MODEL_TIMEOUT."""
        from ocrops.serving.reading import assemble, regions

        started = time.perf_counter()
        found = [await asyncio.to_thread(regions, im, mode, self.detector, SETTINGS.crop_margin) for im in images]
        timings["detect_ms"] = (time.perf_counter() - started) * 1000
        # arrays travel to the recognizer process as they are (a PIL image would be PNG-encoded on the way)
        crops = [np.asarray(r.crop) for _, rs in found for r in rs]
        started = time.perf_counter()
        readings: list[dict] = []
        if crops:
            try:
                readings = await asyncio.wait_for(self.recognizer.to_async.recognize(crops), SETTINGS.timeout_s)
            except TimeoutError as exc:
                raise OcropsError(ErrorCode.TIMEOUT, f"inference took longer than {SETTINGS.timeout_s:g} s") from exc
            except bentoml.exceptions.ServiceUnavailable as exc:
                raise OcropsError(ErrorCode.QUEUE_FULL, "model queue full, retry later") from exc
            except Exception as exc:  # the recognizer process failed, restarted or is unreachable
                log.exception("request to the recognizer failed")
                raise OcropsError(ErrorCode.MODEL_NOT_READY,
                                  f"recognizer unavailable ({type(exc).__name__}); retry later") from exc
        for r in readings:
            if "error" in r:
                raise OcropsError(ErrorCode(r["error"]["code"]), r["error"]["message"])
        timings["recognize_ms"] = (time.perf_counter() - started) * 1000
        results, k = [], 0
        for kind, rs in found:
            results.append(assemble(kind, rs, readings[k : k + len(rs)], self.post, correct, redact_pii))
            k += len(rs)
        return results

    async def _decode(self, image: str | None, file: Path | None, ctx: bentoml.Context | None = None) -> Image.Image:
        if file is not None:
            # only a multipart upload makes ``file`` a server-side temporary file; in JSON it would be a path
            # chosen by the client
            if ctx is None or not ctx.request.headers.get("content-type", "").startswith("multipart/form-data"):
                raise OcropsError(ErrorCode.MALFORMED_REQUEST, "'file' must be a multipart/form-data upload")
            data = await asyncio.to_thread(Path(file).read_bytes)
        elif image:
            data = decode_base64(image, self.limits)
        else:
            raise OcropsError(ErrorCode.MALFORMED_REQUEST, "send an image: multipart field 'file' or base64 'image'")
        return await asyncio.to_thread(open_image, data, self.limits)

    @staticmethod
    def _request_id(ctx: bentoml.Context) -> str:
        return ctx.request.headers.get(REQUEST_ID, "")

    async def _answer(self, ctx: bentoml.Context, work) -> Any:
        request_id = self._request_id(ctx)
        try:
            answer = await work(request_id)
            if SETTINGS.log_content:  # an explicit debugging switch: the text may be personal data
                log.info("content request_id=%s answer=%s", request_id, json.dumps(answer, ensure_ascii=False)[:4000])
            return answer
        except OcropsError as exc:
            retry = SETTINGS.retry_after_s if exc.code == ErrorCode.QUEUE_FULL else None
            response = error_response(exc, request_id, retry)
            # BentoML copies the context's status onto whatever an API with a context parameter returns
            ctx.response.status_code = response.status_code
            return response

    # -- APIs --------------------------------------------------------------------------------------

    @bentoml.api(route="/ocr")
    # ``file: Path = None``, not ``Path | None``: BentoML reads a multipart upload only into a field typed ``Path``
    async def ocr(self, ctx: bentoml.Context, image: str | None = None, file: Path = None,
                  mode: Literal["auto", "line", "page"] = "auto", postprocess: bool | None = None,
                  redact_pii: bool | None = None) -> dict[str, Any]:
        """One image (multipart ``file`` or base64 ``image``): a text line, or a page read line by line."""

        async def work(request_id: str) -> dict[str, Any]:
            started = time.perf_counter()
            correct, redact = self._switches(postprocess, redact_pii)
            picture = await self._decode(image, file, ctx)
            timings = {"decode_ms": (time.perf_counter() - started) * 1000}
            result = (await self._read([picture], mode, correct, redact, timings))[0]
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            return {"request_id": request_id, **result, "width": picture.width, "height": picture.height,
                    "model": self._model(), "timings": {k: round(v, 2) for k, v in timings.items()}}

        return await self._answer(ctx, work)

    @bentoml.api(route="/ocr_batch")
    async def ocr_batch(self, ctx: bentoml.Context, images: list[str], mode: Literal["auto", "line", "page"] = "auto",
                        postprocess: bool | None = None, redact_pii: bool | None = None) -> dict[str, Any]:
        """Several base64 images in one request; one result per image, in order."""

        async def work(request_id: str) -> dict[str, Any]:
            started = time.perf_counter()
            if not images:
                raise OcropsError(ErrorCode.MALFORMED_REQUEST, "images is empty")
            if len(images) > SETTINGS.max_images:
                raise OcropsError(ErrorCode.IMAGE_TOO_LARGE, f"{len(images)} images exceed {SETTINGS.max_images}")
            correct, redact = self._switches(postprocess, redact_pii)
            pictures = [await self._decode(text, None) for text in images]
            timings = {"decode_ms": (time.perf_counter() - started) * 1000}
            results = await self._read(pictures, mode, correct, redact, timings)
            timings["total_ms"] = (time.perf_counter() - started) * 1000
            return {"request_id": request_id, "results": results, "model": self._model(),
                    "timings": {k: round(v, 2) for k, v in timings.items()}}

        return await self._answer(ctx, work)

    @bentoml.api(route="/v1/chat/completions")
    async def chat_completions(self, ctx: bentoml.Context, messages: list[dict[str, Any]], model: str = "",
                               stream: bool = False, max_tokens: int | None = None,
                               temperature: float | None = None) -> dict[str, Any]:
        """OpenAI-compatible: the image as a data URI, the prompt ``Text Recognition:``."""
        from ocrops.serving.protocols import chat_completion, chat_image

        async def work(request_id: str) -> dict[str, Any]:
            if stream:
                raise OcropsError(ErrorCode.MALFORMED_REQUEST, "stream=true is not supported")
            picture = await self._decode(chat_image(messages), None)
            result = (await self._read([picture], "auto", None, None, {}))[0]
            return chat_completion(result["text"], model or self.model_name, request_id)

        return await self._answer(ctx, work)

    @bentoml.api(route="/layout_parsing")
    async def layout_parsing(self, ctx: bentoml.Context, file: str, model: str = "",
                             return_crop_images: bool = False, need_layout_visualization: bool = False,
                             request_id: str | None = None) -> dict[str, Any]:
        """The glmocr SDK's layout-parsing protocol (set its ``maas.api_url`` to this endpoint)."""
        from ocrops.serving.protocols import layout_parsing

        async def work(rid: str) -> dict[str, Any]:
            if file.startswith(("http://", "https://")):
                raise OcropsError(ErrorCode.MALFORMED_REQUEST, "send the file as a data: URI; URLs are not fetched")
            if file.startswith("data:application/pdf"):
                raise OcropsError(ErrorCode.UNREADABLE_IMAGE, "PDF is not supported; send PNG or JPEG pages")
            picture = await self._decode(file, None)
            result = (await self._read([picture], "page", None, None, {}))[0]
            return layout_parsing(result, picture.width, picture.height, model or self.model_name, rid)

        return await self._answer(ctx, work)

    @bentoml.api(route="/model")
    async def model_card(self) -> dict[str, Any]:
        """The served model: MLflow name, version, alias, engine, and its evaluated figures."""
        described = await self.recognizer.to_async.describe()
        return {**self.info, "engine": described.get("engine"), "skipped_engines": described.get("skipped_engines")}


OCR.add_asgi_middleware(Gatekeeper, settings=SETTINGS)
if SETTINGS.web_ui:
    from ocrops.serving.auth import ApiKeys
    from ocrops.serving.webui import web_app

    # the page at / (BentoML's API explorer moves to /docs); mounted apps answer only their own routes
    OCR.mount_asgi_app(web_app(SETTINGS, api_keys_enabled=ApiKeys.from_env().enabled), path="/")
