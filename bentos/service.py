"""The ocrops Bento: an HTTP API service, with the recognizer inside it on CPU or behind it on a GPU.

Two topologies (``serve.topology``, chosen when the service starts): on a machine without a GPU, ``OCR`` runs the
engine in its own process (one service: no second process, no internal hop; engine calls side by side, one per
core); with a GPU, ``OCR`` decodes images and finds the lines of pages, and sends every line to ``Recognizer`` (the
model, on the GPU), whose ``recognize`` BentoML batches across concurrent requests. Settings: the ``serve`` section
of params.yaml, OCROPS_SERVE_* variables override.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Literal

import bentoml
import numpy as np
from PIL import Image

from ocrops.errors import ErrorCode, OcropsError
from ocrops.serving.auth import ApiKeys
from ocrops.serving.http import REQUEST_ID, Gatekeeper, answer_response, error_response
from ocrops.serving.logs import quiet_request_errors
from ocrops.serving.metrics import own_metrics_dir
from ocrops.serving.settings import load_settings, model_tags
from ocrops.serving.topology import choose_topology, engine_calls, engine_threads, serving_process
from ocrops.serving.transport import install as install_transport
from ocrops.serving.webui import web_app

log = logging.getLogger("ocrops.service")
SETTINGS = load_settings(Path(__file__).resolve().parents[1] / "params.yaml")
# the registered models this Bento serves (serve.models: a domain's each; one when empty), first the default
MODELS = [bentoml.models.BentoModel(f"{tag}:latest") for tag in model_tags(SETTINGS)]
MODEL = MODELS[0]
# a built bento holds both services (its graph must list any service it may start); a server chooses
TOPOLOGY = choose_topology(SETTINGS.topology) if serving_process() else "two"
if serving_process():
    own_metrics_dir()  # in `bentoml serve`'s parent: its workers share a metrics folder no other server uses
    # each worker: headers bounded before they reach any app, parser errors as JSON (BentoML builds uvicorn's
    # config after importing this module)
    install_transport(SETTINGS.max_header_bytes)
# BentoML's own deadline per call stays well behind MODEL_TIMEOUT, which the API enforces with its 5004
SERVER_TIMEOUT_S = max(1, math.ceil(SETTINGS.timeout_s * 3))


def _log_like_bentoml() -> None:
    """ocrops' loggers write where BentoML's do (BentoML configures its own logger in each worker); BentoML's
    failed-request records lose their tracebacks and request content."""
    quiet_request_errors()
    ours, theirs = logging.getLogger("ocrops"), logging.getLogger("bentoml")
    ours.setLevel(logging.INFO)
    for handler in theirs.handlers:
        if handler not in ours.handlers:
            ours.addHandler(handler)
    ours.propagate = False


def with_models(cls: type) -> type:
    """Each served model as a class attribute (BentoML packages the models a service's attributes name):
    ``model_ref`` the first, ``model_ref_1``... the others."""
    for k, model in enumerate(MODELS[1:], start=1):
        setattr(cls, f"model_ref_{k}", model)
    return cls


def model_refs(service: object) -> list[bentoml.models.BentoModel]:
    return [service.model_ref, *(getattr(service, f"model_ref_{k}") for k in range(1, len(MODELS)))]


# adaptive batching of a model's lines. max_batch_size 1 turns it off: each call's lines are one model call.
# BentoML sheds queued calls it predicts would miss max_latency_ms; a request's deadline (timeout_s) caps it
BATCHING: dict[str, Any] = {"batchable": SETTINGS.max_batch_size > 1, "max_batch_size": max(2, SETTINGS.max_batch_size),
                            "max_latency_ms": min(SETTINGS.max_latency_ms, int(SETTINGS.timeout_s * 1000))}


def recognize_api(k: int):
    """The batched recognition API of the k-th model (k >= 1; the first's is ``recognize``): a model's lines
    are batched with that model's only."""
    def recognize(self, lines: list[np.ndarray]) -> list[dict[str, Any]]:
        from ocrops.serving.inprocess import readings

        return readings(self.models[k], [Image.fromarray(a) for a in lines], SETTINGS.engine_batch_size,
                        self.metrics)

    recognize.__name__ = recognize.__qualname__ = f"recognize_{k}"
    return bentoml.api(**BATCHING)(recognize)


def with_recognize_apis(cls: type) -> type:
    for k in range(1, len(MODELS)):
        setattr(cls, f"recognize_{k}", recognize_api(k))
    return cls


@bentoml.service(
    name=f"{SETTINGS.bento}-recognizer",
    resources={"gpu": 1},  # the scheduler gives the model one GPU; CPU-only machines get a warning
    workers=1,
    traffic={"timeout": SERVER_TIMEOUT_S},
    # BentoML 1.4.39 replaces the caller's connection pool after max_requests / max_age and closes the old
    # one under requests still in flight on it (they fail with "Server disconnected"); keep one pool
    runner_connection={"max_requests": 2**31, "max_age": 10.0**9},
    logging={"access": {"enabled": False}},  # an internal hop; the API logs each request once
    metrics={"enabled": False},  # ocrops_batch_size records its batches; the API serves /metrics
    **({} if SETTINGS.tracing else {"tracing": {"excluded_urls": [".*"]}}),
)
@with_recognize_apis
@with_models
class Recognizer:
    """The packaged models on the best engine this machine has; warmed up before it says it is ready."""

    model_ref = MODEL

    def __init__(self) -> None:
        from ocrops.inference.runtime import PackagedModel
        from ocrops.serving.metrics import service_metrics

        _log_like_bentoml()
        self.ready = False
        self.metrics = service_metrics()
        self.models = [PackagedModel(ref.path, engine=SETTINGS.engine, threads=engine_threads(SETTINGS.engine_threads))
                       for ref in model_refs(self)]
        self.model = self.models[0]
        for model in self.models:
            log.info("serving %s on %s (skipped: %s)", model.version, model.engine_name, model.skipped)
            model.warm_up(SETTINGS.warmup_batches, SETTINGS.engine_batch_size)
            self.metrics.model_info.labels(**{k: str(v) for k, v in model.version.items()}).set(1)
        self.ready = True

    def __is_ready__(self) -> bool:
        return self.ready

    @bentoml.api(**BATCHING)
    def recognize(self, lines: list[np.ndarray]) -> list[dict[str, Any]]:
        """Line images (RGB uint8 arrays) -> [{"text", "confidence"}]; a failed batch answers
        {"error": {...}} per line."""
        from ocrops.serving.inprocess import readings

        return readings(self.model, [Image.fromarray(a) for a in lines], SETTINGS.engine_batch_size, self.metrics)

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        return {**self.model.version, "skipped_engines": self.model.skipped,
                "models": [m.version for m in self.models]}


class Endpoints:
    """The HTTP API: each endpoint maps its HTTP fields to ocrops.serving.api.OcrApi (``self.api``)."""

    api: Any

    async def _describe(self) -> dict[str, Any]:
        raise NotImplementedError

    async def _answer(self, ctx: bentoml.Context, work: Awaitable[dict[str, Any]]) -> Any:
        """The endpoint's answer, or its error as the JSON error body with the code's HTTP status."""
        try:
            return answer_response(await work)
        except OcropsError as exc:
            retry = getattr(exc, "retry_after_s", SETTINGS.retry_after_s) if exc.code == ErrorCode.QUEUE_FULL else None
            response = error_response(exc, ctx.request.headers.get(REQUEST_ID, ""), retry)
            # BentoML copies the context's status onto whatever an API with a context parameter returns
            ctx.response.status_code = response.status_code
            return response

    @bentoml.api(route="/ocr")
    # ``file: Path = None``, not ``Path | None``: BentoML reads a multipart upload only into a field typed ``Path``
    async def ocr(self, ctx: bentoml.Context, image: str | None = None, file: Path = None,
                  mode: Literal["auto", "line", "page"] = "auto", postprocess: bool | None = None,
                  redact_pii: bool | None = None,
                  format: Literal["json", "txt", "hocr", "alto", "page-xml", "pdf"] | None = None,
                  pictures: bool = False, model: str | None = None) -> dict[str, Any]:
        """One image or document (multipart ``file`` or base64 ``image``): a text line, or a page read line by
        line; answered in JSON, or as ``format`` (or what the ``Accept`` header names): text, hOCR, ALTO, PAGE-XML,
        a searchable PDF. ``pictures``: each page's upright preview as a JPEG data URI in the JSON (``picture``),
        for a client that cannot show the file (a browser and a PDF, TIFF or HEIC). ``model``: the registered
        model that reads it, where the service serves several (default: its first)."""
        from ocrops.formats import Format, from_accept

        fmt = Format(format) if format else from_accept(ctx.request.headers.get("accept"))
        return await self._answer(ctx, self.api.ocr(
            ctx.request.headers.get(REQUEST_ID, ""), image, file, ctx.request.headers.get("content-type"), mode,
            postprocess, redact_pii, fmt, Path(file).name if file else None, pictures,
            model or ctx.request.query_params.get("model")))

    @bentoml.api(route="/ocr_batch")
    async def ocr_batch(self, ctx: bentoml.Context, images: list[str], mode: Literal["auto", "line", "page"] = "auto",
                        postprocess: bool | None = None, redact_pii: bool | None = None,
                        model: str | None = None) -> dict[str, Any]:
        """Several base64 images in one request; one result per image, in order (``model`` as for /ocr)."""
        return await self._answer(ctx, self.api.ocr_batch(ctx.request.headers.get(REQUEST_ID, ""), images, mode,
                                                          postprocess, redact_pii,
                                                          model or ctx.request.query_params.get("model")))

    @bentoml.api(route="/v1/chat/completions")
    async def chat_completions(self, ctx: bentoml.Context, messages: list[dict[str, Any]], model: str = "",
                               stream: bool = False, n: int | None = None, max_tokens: int | None = None,
                               temperature: float | None = None) -> dict[str, Any]:
        """OpenAI-compatible: the image as a data URI, the prompt ``Text Recognition:``."""
        return await self._answer(ctx, self.api.chat_completions(ctx.request.headers.get(REQUEST_ID, ""), messages,
                                                                 model, stream, n, max_tokens, temperature))

    @bentoml.api(route="/layout_parsing")
    async def layout_parsing(self, ctx: bentoml.Context, file: str, model: str = "",
                             return_crop_images: bool = False, need_layout_visualization: bool = False,
                             request_id: str | None = None) -> dict[str, Any]:
        """The glmocr SDK's layout-parsing protocol (set its ``maas.api_url`` to this endpoint)."""
        return await self._answer(ctx, self.api.layout_parsing(ctx.request.headers.get(REQUEST_ID, ""), file, model))

    @bentoml.api(route="/model")
    async def model_card(self) -> dict[str, Any]:
        """The served model: MLflow name, version, alias, engine, topology, and its evaluated figures."""
        described = await self._describe()
        return {**self.api.default.info, "engine": described.get("engine"),
                "skipped_engines": described.get("skipped_engines"), "topology": TOPOLOGY,
                "models": [m.info for m in self.api.models.values()]}


API_CONFIG: dict[str, Any] = {
    "name": SETTINGS.bento,
    "workers": SETTINGS.workers,
    "traffic": {"timeout": SERVER_TIMEOUT_S},
    "http": {"port": 3000},
    # ocrops.access logs one line per request instead: request id, hashed client, status, time; no content
    "logging": {"access": {"enabled": False}},
    # BentoML's request families label the raw path (one series per path a client makes up); the Gatekeeper
    # serves /metrics with ocrops' own, bounded families instead
    "metrics": {"enabled": False},
    # BentoML makes a span for every request even with no exporter configured; none unless serve.tracing
    **({} if SETTINGS.tracing else {"tracing": {"excluded_urls": [".*"]}}),
}

if TOPOLOGY == "two":

    @bentoml.service(**API_CONFIG)
    @with_models
    class OCR(Endpoints):
        """The API in front of the adaptively batched recognizer service."""

        recognizer = bentoml.depends(Recognizer)
        model_ref = MODEL

        def __init__(self) -> None:
            from ocrops.serving.api import OcrApi, ServedModel

            _log_like_bentoml()
            self.api = OcrApi([ServedModel(ref.path, functools.partial(self._recognize, k))
                               for k, ref in enumerate(model_refs(self))], SETTINGS)

        async def _recognize(self, k: int, lines: list[Image.Image]) -> list[dict[str, Any]]:
            api = getattr(self.recognizer.to_async, f"recognize_{k}" if k else "recognize")
            try:
                # arrays travel to the recognizer process as they are (a PIL image would be PNG-encoded)
                return await api([np.asarray(line) for line in lines])
            except bentoml.exceptions.ServiceUnavailable as exc:  # the recognizer's queue is full
                raise OcropsError(ErrorCode.QUEUE_FULL, "model queue full, retry later") from exc

        async def _describe(self) -> dict[str, Any]:
            return await self.recognizer.to_async.describe()

else:

    @bentoml.service(**API_CONFIG)
    @with_models
    class OCR(Endpoints):  # type: ignore[no-redef]
        """The API with the engines in its own process (one per served model); ready once they are warm."""

        model_ref = MODEL

        def __init__(self) -> None:
            from ocrops.serving.api import OcrApi, ServedModel
            from ocrops.serving.inprocess import InProcessRecognizer

            _log_like_bentoml()
            self.ready = False
            self.engines = [InProcessRecognizer(ref.path, SETTINGS.engine, engine_threads(SETTINGS.engine_threads),
                                                engine_calls(SETTINGS.engine_calls), SETTINGS.engine_batch_size)
                            for ref in model_refs(self)]
            self.engine = self.engines[0]
            for engine in self.engines:
                described = engine.describe()
                log.info("serving %s on %s in the API process, %d engine calls at once (skipped: %s)",
                         engine.model.version, described["engine"], described["engine_calls"],
                         described["skipped_engines"])
            self.api = OcrApi([ServedModel(ref.path, engine.recognize, engine.release_memory)
                               for ref, engine in zip(model_refs(self), self.engines, strict=True)], SETTINGS)
            # warm up behind the running server: /livez answers at once, /readyz once the engines are warm
            threading.Thread(target=self._warm_up, name="ocrops-warm-up", daemon=True).start()

        def _warm_up(self) -> None:
            try:
                for engine in self.engines:
                    engine.warm_up(SETTINGS.warmup_batches)
            except Exception:  # a failed warm-up leaves the server unready; its requests report the cause
                log.exception("engine warm-up failed")
                return
            self.ready = True

        def __is_ready__(self) -> bool:
            return self.ready

        async def _describe(self) -> dict[str, Any]:
            return self.engine.describe()


OCR.add_asgi_middleware(Gatekeeper, settings=SETTINGS)
# the web page at / (serve.web_ui) and the API explorer at /docs, both without BentoML's own explorer page, which
# loads a tag manager; mounted apps answer only their own routes
OCR.mount_asgi_app(web_app(SETTINGS, api_keys_enabled=ApiKeys.from_env().enabled), path="/")
