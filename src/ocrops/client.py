"""Python client for an ocrops service: ``OCRClient`` (sync) and ``AsyncOCRClient``.

Both send images to ``POST /ocr`` as multipart uploads, retry what the service asks to be retried (429 and
503: rate limit, full queue, model restarting, service unreachable) after the ``Retry-After`` it sends, and
raise ``ServiceError`` with the service's code (docs/architecture.md, "Errors") otherwise::

    with OCRClient("http://127.0.0.1:3000") as client:
        print(client.ocr("scan.png").text)
"""

from __future__ import annotations

import asyncio
import email.utils
import io
import logging
import mimetypes
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import httpx
import tenacity
from PIL import Image
from pydantic import BaseModel, ConfigDict
from tqdm import tqdm

from ocrops.errors import HTTP_STATUS, ErrorCode, OcropsError

log = logging.getLogger("ocrops.client")

API_KEY_ENV = "OCROPS_API_KEY"  # pragma: allowlist secret (the variable's name)
ImageInput = str | os.PathLike | bytes | Image.Image
Mode = Literal["auto", "line", "page"]
# what the service answers when trying again later can succeed
RETRYABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.QUEUE_FULL, ErrorCode.UNAVAILABLE,
                       ErrorCode.REQUEST_TIMEOUT})  # 4080: the upload stalled on the way; sending again may pass
# without a Retry-After (the service unreachable): 0.5 s, 1 s, 2 s, ... plus up to 1 s of jitter
BACKOFF = tenacity.wait_exponential_jitter(multiplier=0.5, max=60)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif", ".avif",
                            ".pdf"})


class OCRLine(BaseModel):
    text: str
    raw_text: str
    confidence: float
    box: list[list[float]]  # four corners in image pixels, clockwise from top-left
    needs_review: bool | None = None  # confidence under the model's review threshold (None: model not calibrated)
    page: int | None = None  # a document's (PDF, multi-page TIFF) page number, from 1; its pixels are that page's


class OCRResult(BaseModel):
    """The service's answer for one image, plus where it came from and how many attempts it took."""

    model_config = ConfigDict(extra="allow")

    request_id: str
    mode: str
    text: str
    lines: list[OCRLine]
    width: int
    height: int
    model: dict[str, str]
    warnings: list[dict[str, Any]] = []  # what the reader doubts: {"code", "message"} (a document's: "page" too)
    rotation: int | None = None  # a page: degrees clockwise it was turned to read it upright (its boxes are so)
    # a document (PDF, multi-page TIFF): each page's number, width, height, text and lines; ``text`` joins the
    # pages' texts with form feeds and ``width``/``height`` are its first page's
    pages: list[dict[str, Any]] | None = None
    timings: dict[str, float] = {}
    source: str | None = None
    attempts: int = 1


class ServiceError(OcropsError):
    """An error answer (or no answer) from the service."""

    def __init__(self, code: ErrorCode | int, message: str, status: int | None = None,
                 request_id: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(ErrorCode(code), message)
        self.status, self.request_id, self.retry_after = status, request_id, retry_after
        self.source: str | None = None
        self.attempts = 1

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE

    def to_dict(self, request_id: str | None = None) -> dict:
        return super().to_dict(request_id or self.request_id)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) -> seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(response: httpx.Response) -> ServiceError:
    """The service's JSON error body -> ServiceError; a body without a code (a proxy's page) by its status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    if isinstance(body, dict) and body.get("code") in ErrorCode._value2member_map_:
        return ServiceError(body["code"], str(body.get("message", "")), response.status_code,
                            body.get("request_id"), retry_after)
    by_status = {status: code for code, status in HTTP_STATUS.items()}
    by_status[503] = ErrorCode.QUEUE_FULL
    code = by_status.get(response.status_code, ErrorCode.UNAVAILABLE if response.status_code >= 500
                         else ErrorCode.INVALID_INPUT)
    return ServiceError(code, f"HTTP {response.status_code}: {response.text[:200]}", response.status_code,
                        response.headers.get("x-request-id"), retry_after)


def error_from_transport(exc: httpx.TransportError, url: str, timeout: float) -> ServiceError:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        # the request may be running still: retrying would add load, so it is the caller's call
        return ServiceError(ErrorCode.TIMEOUT, f"no answer from {url} within {timeout:g} s")
    return ServiceError(ErrorCode.UNAVAILABLE, f"service unreachable at {url} ({type(exc).__name__}: {exc})")


def image_payload(image: ImageInput) -> tuple[str, bytes, str]:
    """(filename, bytes, content type) of an image given as a path, encoded bytes or a PIL image."""
    if isinstance(image, Image.Image):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return "image.png", buf.getvalue(), "image/png"
    if isinstance(image, bytes | bytearray):
        return "image", bytes(image), "application/octet-stream"
    path = Path(image)
    return path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def source_of(image: ImageInput) -> str | None:
    return str(image) if isinstance(image, str | os.PathLike) else None


def _unreadable(image: ImageInput, exc: OSError) -> ServiceError:
    """A path that cannot be read, reported like the service's 4001."""
    error = ServiceError(ErrorCode.UNREADABLE_IMAGE, f"cannot read {image}: {exc.strerror or exc}")
    error.source = source_of(image)
    return error


def image_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; folders -> the images in them (recursively, sorted)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(p)
    return found


class _Settings:
    """What both clients share: the URL, key, timeout and the retry policy."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 60.0, retries: int = 5,
                 max_retry_wait: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self.timeout, self.retries, self.max_retry_wait = timeout, retries, max_retry_wait

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The service's Retry-After when it sent one, else exponential backoff with jitter; capped."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ServiceError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_retry_wait)
        return min(BACKOFF(state), self.max_retry_wait)

    def _retry_policy(self, label: str | None) -> dict[str, Any]:
        def warn(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception()
            log.warning("%s%s; retry %d/%d in %.1f s", f"{label}: " if label else "", exc, state.attempt_number,
                        self.retries, state.next_action.sleep if state.next_action else 0)

        return {"stop": tenacity.stop_after_attempt(self.retries + 1), "wait": self._wait, "reraise": True,
                "retry": tenacity.retry_if_exception(lambda e: isinstance(e, ServiceError) and e.retryable),
                "before_sleep": warn}

    @staticmethod
    def _upload(payload: tuple[str, bytes, str], mode: Mode, postprocess: bool | None,
                redact_pii: bool | None, model: str | None = None) -> dict[str, Any]:
        """``POST /ocr`` as multipart: the image as ``file``, the switches (and the model, where the service
        serves several) as form fields."""
        form = {"mode": mode} | ({"model": model} if model else {})
        for name, value in (("postprocess", postprocess), ("redact_pii", redact_pii)):
            if value is not None:
                form[name] = "true" if value else "false"
        return {"files": {"file": payload}, "data": form}

    @staticmethod
    def _label(exc: ServiceError, image: ImageInput, retrying: tenacity.BaseRetrying) -> None:
        exc.source, exc.attempts = source_of(image), retrying.statistics.get("attempt_number", 1)

    @staticmethod
    def _result(response: httpx.Response, source: str | None, attempts: int) -> OCRResult:
        if response.status_code != 200:
            raise error_from_response(response)
        return OCRResult.model_validate({**response.json(), "source": source, "attempts": attempts})


class OCRClient(_Settings):
    """Blocking client; thread-safe (``ocr_many`` runs requests from a thread pool)."""

    def __init__(self, url: str = "http://127.0.0.1:3000", **settings: Any) -> None:
        super().__init__(url, **settings)
        self._http = httpx.Client(base_url=self.url, timeout=self._timeout(), headers=self._headers())

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.post(path, **kwargs)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, self.url, self.timeout) from exc

    def ocr(self, image: ImageInput, *, mode: Mode = "auto", postprocess: bool | None = None,
            redact_pii: bool | None = None, model: str | None = None) -> OCRResult:
        """Read one image: a text line, or a page line by line (``mode="auto"`` lets the service decide);
        ``model``: which of the service's models reads it (a service of several domains; default: its first)."""
        upload = self._upload(image_payload(image), mode, postprocess, redact_pii, model)
        retrying = tenacity.Retrying(**self._retry_policy(source_of(image)))
        try:
            for attempt in retrying:
                with attempt:
                    response = self._post("/ocr", **upload)
                    return self._result(response, source_of(image), attempt.retry_state.attempt_number)
        except ServiceError as exc:
            self._label(exc, image, retrying)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def ocr_many(self, images: Iterable[ImageInput], *, concurrency: int = 4, progress: bool | None = False,
                 **options: Any) -> Iterator[OCRResult | ServiceError]:
        """Read many images (``options`` as for ``ocr``), ``concurrency`` at a time; yields in input order, an
        error in place of a result for an image that failed (one bad file does not stop the rest).
        ``progress=None``: a progress bar when on a terminal."""
        images = list(images)

        def one(image: ImageInput) -> OCRResult | ServiceError:
            try:
                return self.ocr(image, **options)
            except ServiceError as exc:
                return exc
            except OSError as exc:
                return _unreadable(image, exc)

        with ThreadPoolExecutor(max(1, concurrency)) as pool, \
                tqdm(total=len(images), unit="img", desc="ocr", disable=None if progress is None else not progress,
                     leave=False) as bar:
            futures = [pool.submit(one, image) for image in images]
            for future in futures:
                future.add_done_callback(lambda _f: bar.update(1))
            for future in futures:
                yield future.result()

    def model(self) -> dict[str, Any]:
        """The served model: MLflow name, version, alias, engine, evaluated figures."""
        response = self._post("/model", json={})
        if response.status_code != 200:
            raise error_from_response(response)
        return response.json()

    def ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OCRClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncOCRClient(_Settings):
    """The same calls for asyncio code (``await client.ocr(...)``)."""

    def __init__(self, url: str = "http://127.0.0.1:3000", **settings: Any) -> None:
        super().__init__(url, **settings)
        self._http = httpx.AsyncClient(base_url=self.url, timeout=self._timeout(), headers=self._headers())

    async def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.post(path, **kwargs)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, self.url, self.timeout) from exc

    async def ocr(self, image: ImageInput, *, mode: Mode = "auto", postprocess: bool | None = None,
                  redact_pii: bool | None = None, model: str | None = None) -> OCRResult:
        upload = self._upload(await asyncio.to_thread(image_payload, image), mode, postprocess, redact_pii, model)
        retrying = tenacity.AsyncRetrying(**self._retry_policy(source_of(image)))
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._post("/ocr", **upload)
                    return self._result(response, source_of(image), attempt.retry_state.attempt_number)
        except ServiceError as exc:
            self._label(exc, image, retrying)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def ocr_many(self, images: Iterable[ImageInput], *, concurrency: int = 4,
                       **options: Any) -> AsyncIterator[OCRResult | ServiceError]:
        """Like ``OCRClient.ocr_many``: in input order, errors in place of results."""
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(image: ImageInput) -> OCRResult | ServiceError:
            async with gate:
                try:
                    return await self.ocr(image, **options)
                except ServiceError as exc:
                    return exc
                except OSError as exc:
                    return _unreadable(image, exc)

        tasks = [asyncio.ensure_future(one(image)) for image in images]
        try:
            for task in tasks:
                yield await task
        finally:
            for task in tasks:
                task.cancel()

    async def model(self) -> dict[str, Any]:
        response = await self._post("/model", json={})
        if response.status_code != 200:
            raise error_from_response(response)
        return response.json()

    async def ready(self) -> bool:
        try:
            return (await self._http.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncOCRClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
