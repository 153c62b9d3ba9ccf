"""What the service's endpoints do, free of BentoML: check and decode images, read them through the page
reader with recognition delegated to the batched recognizer, and answer in the API's shapes.

Every request runs under one deadline (``serve.timeout_s``): receiving its payload's bytes, checking their
headers, admission (``serving.admission``), decoding and reading. Image work runs in the worker's own bounded
lanes (``serving.lanes``), never on the event loop.

bentos/service.py maps HTTP to these calls; any other front end (a test, another server) can use them too.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from ocrops.data.documents import Page, open_document
from ocrops.data.geometry import turn
from ocrops.errors import ErrorCode, OcropsError
from ocrops.formats import Format, Rendered, render
from ocrops.inference.inputs import PayloadLimits, decode_base64, document_limits
from ocrops.inference.pages import Mode, is_line_size, page_reader
from ocrops.inference.runtime import DETECTOR_FILE, read_package
from ocrops.inference.types import Prediction
from ocrops.serving import memory
from ocrops.serving.admission import Admission, Ticket
from ocrops.serving.capture import REQUEST_ID, Capture
from ocrops.serving.lanes import SMALL_PIXELS, Lanes
from ocrops.serving.metrics import observe_lines, service_metrics
from ocrops.serving.protocols import chat_completion, chat_image, check_chat_options, layout_parsing
from ocrops.serving.settings import ServeSettings

log = logging.getLogger("ocrops.service")

# recognition of line crops (RGB images): {"text", "confidence"} or {"error"} each
Recognize = Callable[[list[Image.Image]], Awaitable[list[dict[str, Any]]]]
# memory goes back to the system once a worker has had no request for this long
GIVE_BACK_AFTER_IDLE_S = 1.0
T = TypeVar("T")


@dataclass
class Opened:
    """A payload's pages (one for an image; a PDF's or a TIFF's all), sizes read and checked, pixels not yet
    decoded or rendered."""

    pages: list[Page]
    data: bytes = field(default=b"", repr=False)  # the file itself: a searchable PDF is built on it

    @property
    def document(self) -> bool:
        """Answered page by page: a PDF (even of one page) or a multi-page TIFF."""
        return self.pages[0].header.format == "PDF" or len(self.pages) > 1


def document_result(results: list[dict], pages: list[Page]) -> dict:
    """One answer for a document's pages: each page's lines (boxes in its own pixels, turned upright) under
    ``pages``, the text of all pages joined by form feeds (as pdftotext separates pages), every line with its page
    number, and every page's warnings with its number."""
    entries = []
    for result, page in zip(results, pages, strict=True):
        entry = {"page": page.index + 1, **result}
        if page.dpi is not None:
            entry["dpi"] = round(page.dpi, 1)
        entries.append(entry)
    return {"mode": "page", "text": "\f".join(r["text"] for r in results),
            "lines": [{**line, "page": e["page"]} for e in entries for line in e["lines"]],
            "pages": entries, "warnings": [{**w, "page": e["page"]} for e in entries for w in e.pop("warnings", [])]}


def preview_uri(picture: Image.Image, rotation: int, side: int) -> str:
    """A page as the reader saw it upright, at most ``side`` pixels on its longer side, as a JPEG data URI."""
    upright = turn(picture, rotation)
    scale = min(1.0, side / max(upright.size))
    if scale < 1:
        upright = upright.resize((max(1, round(upright.width * scale)), max(1, round(upright.height * scale))),
                                 Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    upright.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class ServedModel:
    """One registered model the service reads with: its package (provenance, post-processing chain) and the
    recognizer that runs it (``release_memory`` gives that one's working memory back, when it runs in this
    process)."""

    def __init__(self, root: str | Path, recognize: Recognize,
                 release_memory: Callable[[], None] | None = None) -> None:
        self.root, self.recognize, self.release_memory = Path(root), recognize, release_memory
        self.info, self.post = read_package(root)
        self.name: str = self.info["mlflow"]["name"]

    def card(self) -> dict[str, Any]:
        m = self.info["mlflow"]
        return {"name": m["name"], "version": str(m["version"]), "alias": m["alias"]}


class OcrApi:
    """The endpoints over one or several models (a domain's each, ``serve.models``): a request names its model,
    the first answers one that names none; every model reads pages through the first one's detector."""

    def __init__(self, models: Sequence[ServedModel], settings: ServeSettings) -> None:
        self.settings, self.models = settings, {m.name: m for m in models}
        self.default = models[0]
        detector = self.default.root / DETECTOR_FILE
        self.pages = page_reader(settings, detector if detector.exists() else None)
        self.limits, self.document_limits = PayloadLimits.of(settings), document_limits(settings)
        self.lanes = Lanes(settings.decode_threads)
        self.admission = Admission(settings.max_request_pixels, settings.max_worker_pixels, settings.timeout_s,
                                   SMALL_PIXELS, on_idle=self._idle)
        self._given_back_at = 0  # requests admitted when memory was last given back
        self.capture = self._capture(settings)
        if settings.log_content:
            log.warning("serve.log_content is on: every answer, OCR text included, goes to the log")

    def _capture(self, settings: ServeSettings) -> Capture | None:
        if not settings.capture.enabled:
            return None
        if all(m.post.calibration is None for m in self.models.values()):
            log.warning("serve.capture is on, but this model version carries no confidence calibration: no line "
                        "is marked needs_review, so none is captured (register it again with `dvc repro`)")
            return None
        log.warning("serve.capture is on: lines needing review are kept in %s (SECURITY.md)", settings.capture.url)
        return Capture(settings.capture, self.model(), service_metrics().captured)

    def _idle(self, admitted: int) -> None:
        """The worker has no request in hand: if it stays so for a moment, give back what reading kept (the
        engines' arenas, the heap's free pages); a load that goes on keeps them, and their speed."""
        if admitted != self._given_back_at:
            asyncio.get_running_loop().call_later(GIVE_BACK_AFTER_IDLE_S, self._still_idle, admitted)

    def _still_idle(self, admitted: int) -> None:
        if self.admission.idle and self.admission.admitted == admitted:
            self._given_back_at = admitted
            self.lanes.large.submit(self._give_back)

    def _give_back(self) -> None:
        try:
            self.pages.release_memory()
            for model in self.models.values():
                if model.release_memory is not None:
                    model.release_memory()
        except Exception:  # memory stays held; answers are not affected
            log.exception("giving the engines' memory back failed")
        memory.trim()

    # -- helpers -----------------------------------------------------------------------------------

    def model(self) -> dict[str, Any]:
        return self.default.card()

    def served(self, asked: str | None) -> ServedModel:
        """The model a request names: a registered name or NAME@ALIAS of one served here, one of
        ``serve.chat_models`` (the first model), or none (the first); 4002 naming the served ones otherwise (no
        answer under another model's name)."""
        if not asked or asked in self.settings.chat_models:
            return self.default
        name, _, alias = asked.partition("@")
        found = self.models.get(name)
        if found is None or (alias and alias != found.info["mlflow"]["alias"]):
            served = ", ".join(f"{m.name!r} (@{m.info['mlflow']['alias']})" for m in self.models.values())
            also = ", ".join(self.settings.chat_models)
            raise OcropsError(ErrorCode.INVALID_INPUT,
                              f"model {asked[:60]!r} is not served here; this service serves {served}"
                              + (f" (also: {also})" if also else ""))
        return found

    def switches(self, postprocess: bool | None, redact_pii: bool | None) -> tuple[bool | None, bool | None]:
        if (postprocess is not None or redact_pii is not None) and not self.settings.postprocess_override:
            raise OcropsError(ErrorCode.INVALID_INPUT,
                              "per-request post-processing switches are disabled on this service")
        return postprocess, redact_pii

    async def recognize(self, crops: list[Image.Image], model: ServedModel | None = None) -> list[Prediction]:
        """The crops through ``model``'s (default: the first's) batched recognizer, in calls of at most
        ``engine_batch_size`` lines sent together, so that the batcher interleaves them with other requests' lines
        and a page of any size fits its batches; the recognizer's errors keep their codes."""
        size, remote = self.settings.engine_batch_size, (model or self.default).recognize
        try:
            parts = await asyncio.gather(*(remote(crops[i : i + size]) for i in range(0, len(crops), size)))
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
                   timings: dict, ticket: Ticket, model: ServedModel | None = None) -> list[dict]:
        """Detection (in the large lane) and recognition of decoded images by ``model`` (default: the first)."""
        async def offload(fn: Callable[..., T], *args: Any) -> T:
            return await self.lanes.run(self.lanes.large, fn, *args, ticket=ticket)

        model = model or self.default
        keep = functools.partial(self.capture.offer, model=model.card()) if self.capture else None
        results = await self.pages.read_async(images, functools.partial(self.recognize, model=model), mode,
                                              model.post, correct, redact_pii, timings,
                                              max_lines=self.settings.max_lines, offload=offload, keep=keep)
        observe_lines(service_metrics(), results, model.name)
        return results

    async def within_deadline(self, work: Awaitable[T]) -> T:
        """``work`` answered by ``serve.timeout_s`` (5004), whatever it is waiting for; threads it left running
        keep their memory counted until they finish (``Ticket``)."""
        try:
            return await asyncio.wait_for(work, self.settings.timeout_s)
        except TimeoutError as exc:
            raise OcropsError(ErrorCode.TIMEOUT, f"the request took longer than {self.settings.timeout_s:g} s") from exc

    def _open(self, payload: str | Path) -> Opened:
        """Base64 text or an uploaded file's path -> its pages, sizes checked (runs in the small lane: the bytes
        are bounded, no pixel is decoded or rendered)."""
        data = Path(payload).read_bytes() if isinstance(payload, Path) else decode_base64(payload, self.limits)
        return Opened(open_document(data, self.document_limits), data)

    async def open(self, image: str | None, file: Path | None = None, content_type: str | None = None) -> Opened:
        if file is not None:
            # only a multipart upload makes ``file`` a server-side temporary file; in JSON it would be a path
            # chosen by the client
            if not (content_type or "").startswith("multipart/form-data"):
                raise OcropsError(ErrorCode.INVALID_INPUT, "'file' must be a multipart/form-data upload")
            payload: str | Path = Path(file)
        elif image:
            payload = image
        else:
            raise OcropsError(ErrorCode.INVALID_INPUT, "send an image: multipart field 'file' or base64 'image'")
        return await self.lanes.run(self.lanes.small, self._open, payload)

    def admit(self, opened: Sequence[Opened], mode: Mode = "auto") -> Ticket:
        # read as a page: a document's pages always, an image unless line mode or auto and line-shaped
        pages = any(o.document or mode == "page" or (mode == "auto" and not is_line_size(
            o.pages[0].header.width, o.pages[0].header.height)) for o in opened)
        return self.admission.admit([p.pixels for o in opened for p in o.pages], self.settings.retry_after_s, pages)

    async def decode(self, pages: Sequence[Page], ticket: Ticket) -> list[Image.Image]:
        """Pixels decoded (or PDF pages rendered) in the lane their size calls for."""
        return list(await asyncio.gather(*(
            self.lanes.run(self.lanes.for_pixels(p.pixels), p.load, ticket=ticket) for p in pages)))

    async def read_opened(self, opened: Sequence[Opened], mode: Mode, correct: bool | None, redact: bool | None,
                          timings: dict, started: float, model: ServedModel | None = None
                          ) -> tuple[list[dict], list[list[Image.Image]]]:
        """Opened payloads admitted, decoded and read by ``model``: (a result per payload, with its warnings, a
        document's with its pages; each payload's pictures, a page's as decoded, before any turn)."""
        pages = [p for o in opened for p in o.pages]
        async with self.admit(opened, mode) as ticket:
            pictures = await self.decode(pages, ticket)
            timings["decode_ms"] = (time.perf_counter() - started) * 1000
            # a document's pages are read as pages, whatever the mode: a page never passes for a line
            modes = [("page" if o.document else mode) for o in opened for _ in o.pages]
            results = []
            for page_mode in dict.fromkeys(modes):
                chosen = [k for k, m in enumerate(modes) if m == page_mode]
                read = await self.read([pictures[k] for k in chosen], page_mode, correct, redact, timings, ticket,
                                       model)
                results += list(zip(chosen, read, strict=True))
        by_page = [r for _, r in sorted(results, key=lambda kr: kr[0])]
        answers, decoded, at = [], [], 0
        for o in opened:
            n = len(o.pages)
            if o.document:
                answers.append(document_result(by_page[at : at + n], o.pages))
            else:
                answers.append(by_page[at])
            decoded.append(pictures[at : at + n])
            at += n
        return answers, decoded

    def logged(self, request_id: str, answer: T) -> T:
        if self.settings.log_content and isinstance(answer, dict):  # a debugging switch: the text may be personal
            log.info("content request_id=%s answer=%s", request_id, json.dumps(answer, ensure_ascii=False)[:4000])
        return answer

    # -- endpoints ---------------------------------------------------------------------------------

    async def ocr(self, request_id: str, image: str | None, file: Path | None, content_type: str | None,
                  mode: Mode, postprocess: bool | None, redact_pii: bool | None, fmt: Format | None = None,
                  name: str | None = None, pictures: bool = False, model: str | None = None
                  ) -> dict[str, Any] | Rendered:
        """The answer in JSON (with ``pictures``: each page's upright preview as a JPEG data URI, for a client
        that cannot show the file itself), or written as ``fmt`` (``ocrops.formats``) for the file named
        ``name``; read by the ``model`` named (``served``)."""
        REQUEST_ID.set(request_id)  # captured lines name their request
        correct, redact = self.switches(postprocess, redact_pii)
        served = self.served(model)
        return self.logged(request_id, await self.within_deadline(
            self._ocr(request_id, image, file, content_type, mode, correct, redact, fmt, name, pictures, served)))

    async def _ocr(self, request_id: str, image: str | None, file: Path | None, content_type: str | None,
                   mode: Mode, correct: bool | None, redact: bool | None, fmt: Format | None = None,
                   name: str | None = None, pictures: bool = False, model: ServedModel | None = None
                   ) -> dict[str, Any] | Rendered:
        started, timings, model = time.perf_counter(), {}, model or self.default
        opened = await self.open(image, file, content_type)
        [result], [decoded] = await self.read_opened([opened], mode, correct, redact, timings, started, model)
        if pictures and (fmt is None or fmt is Format.json):
            side = self.settings.web_preview_side
            entries = result["pages"] if "pages" in result else [result]
            previews = await self.lanes.run(self.lanes.large, lambda: [
                preview_uri(picture, entry.get("rotation", 0), side)
                for picture, entry in zip(decoded, entries, strict=True)])
            for entry, uri in zip(entries, previews, strict=True):
                entry["picture"] = uri
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        answer = {"request_id": request_id, **result, "width": result.get("width", decoded[0].width),
                  "height": result.get("height", decoded[0].height), "warnings": result.pop("warnings"),
                  "model": model.card(), "timings": {k: round(v, 2) for k, v in timings.items()}}
        if fmt is None or fmt is Format.json:
            return answer
        suffix = ".pdf" if opened.pages[0].header.format == "PDF" else f".{opened.pages[0].header.format.lower()}"
        return await self.lanes.run(self.lanes.large, render, fmt, answer, opened.data, name or f"document{suffix}")

    async def ocr_batch(self, request_id: str, images: list[str], mode: Mode, postprocess: bool | None,
                        redact_pii: bool | None, model: str | None = None) -> dict[str, Any]:
        if not images:
            raise OcropsError(ErrorCode.INVALID_INPUT, "images is empty")
        if len(images) > self.settings.max_images:
            raise OcropsError(ErrorCode.TOO_LARGE, f"{len(images)} images exceed {self.settings.max_images}")
        REQUEST_ID.set(request_id)  # captured lines name their request
        correct, redact = self.switches(postprocess, redact_pii)
        served = self.served(model)
        return self.logged(request_id, await self.within_deadline(
            self._ocr_batch(request_id, images, mode, correct, redact, served)))

    async def _ocr_batch(self, request_id: str, images: list[str], mode: Mode, correct: bool | None,
                         redact: bool | None, model: ServedModel) -> dict[str, Any]:
        started, timings = time.perf_counter(), {}
        opened = list(await asyncio.gather(*(self.open(text) for text in images)))
        results, _ = await self.read_opened(opened, mode, correct, redact, timings, started, model)
        timings["total_ms"] = (time.perf_counter() - started) * 1000
        return {"request_id": request_id, "results": results, "model": model.card(),
                "timings": {k: round(v, 2) for k, v in timings.items()}}

    async def read_one(self, payload: str, mode: Mode, model: ServedModel | None = None
                       ) -> tuple[dict, Image.Image]:
        """One base64 image (a data URI), read under the deadline: (its result, the decoded image)."""
        async def work() -> tuple[dict, Image.Image]:
            opened = await self.open(payload)
            [result], [decoded] = await self.read_opened([opened], mode, None, None, {}, time.perf_counter(),
                                                         model)
            return result, decoded[0]

        return await self.within_deadline(work())

    async def chat_completions(self, request_id: str, messages: list[dict[str, Any]], model: str, stream: bool,
                               n: int | None = None, max_tokens: int | None = None,
                               temperature: float | None = None) -> dict[str, Any]:
        if stream:
            raise OcropsError(ErrorCode.INVALID_INPUT, "stream=true is not supported")
        check_chat_options(n, max_tokens, temperature)
        REQUEST_ID.set(request_id)  # captured lines name their request
        served = self.served(model)
        result, _ = await self.read_one(chat_image(messages), "auto", served)
        # the answer carries the name asked for (a served one, or one of serve.chat_models)
        return self.logged(request_id, chat_completion(result["text"], model or served.name, request_id))

    async def layout_parsing(self, request_id: str, file: str, model: str) -> dict[str, Any]:
        if file.startswith(("http://", "https://")):
            raise OcropsError(ErrorCode.INVALID_INPUT, "send the file as a data: URI; URLs are not fetched")
        REQUEST_ID.set(request_id)  # captured lines name their request
        served = self.served(model)
        result, picture = await self.read_one(file, "page", served)
        pages = ([(page, page["width"], page["height"]) for page in result["pages"]] if "pages" in result
                 else [(result, result.get("width", picture.width), result.get("height", picture.height))])
        return self.logged(request_id, layout_parsing(pages, model or served.name, request_id))
