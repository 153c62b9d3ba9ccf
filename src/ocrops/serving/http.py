"""HTTP plumbing shared by every endpoint: JSON error bodies with request ids, and the ASGI gatekeeper that
runs before the API (request ids, size limit, API keys, rate limit, the body received whole and in time,
admission queue, metrics, logs)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from ocrops.errors import HTTP_STATUS, ErrorCode, OcropsError
from ocrops.serving.auth import ApiKeys, key_id, presented_key
from ocrops.serving.body import BodyLimits, ClientGone, read_body
from ocrops.serving.ratelimit import RateLimiter

log = logging.getLogger("ocrops.access")

REQUEST_ID = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# BentoML's own endpoints and the docs: never rate-limited, queued or authenticated (probes must answer)
OPEN_PATHS = ("/healthz", "/livez", "/readyz", "/metrics", "/docs", "/schema.json", "/static_content", "/ui/",
              "/assets")
# endpoint label values (anything else is "other": a label per random path would grow without bound)
API_PATHS = frozenset({"/ocr", "/ocr_batch", "/v1/chat/completions", "/layout_parsing", "/model"})
# what BentoML or the server answers on its own, mapped to our codes
FOREIGN_STATUS = {400: ErrorCode.INVALID_INPUT, 404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED,
                  413: ErrorCode.TOO_LARGE, 415: ErrorCode.INVALID_INPUT, 422: ErrorCode.INVALID_INPUT,
                  503: ErrorCode.QUEUE_FULL, 504: ErrorCode.TIMEOUT}
CLIENT_CLOSED = 499  # nginx's status for a client that hung up before its answer: not a server error


def quoted(text: str) -> str:
    """``text`` as a JSON string: quoted, control characters and non-ASCII escaped (log fields)."""
    return json.dumps(text[:300], ensure_ascii=True)


def tidy(value):
    """Floats at 7 significant digits (a float32 box corner 46.8 is 46.8, not 46.79999923706055), recursively."""
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(v) for v in value]
    return value


def answer_response(answer: dict):
    """An endpoint's answer as JSON in UTF-8 (text as written, not ``\\u`` escapes), floats tidied."""
    from starlette.responses import Response

    body = json.dumps(tidy(answer), ensure_ascii=False, allow_nan=False).encode()
    return Response(body, media_type="application/json")


def error_body(error: OcropsError, request_id: str | None) -> bytes:
    return json.dumps(error.to_dict(request_id), ensure_ascii=False).encode()


def error_response(error: OcropsError, request_id: str | None, retry_after: int | None = None):
    from starlette.responses import Response

    headers = {REQUEST_ID: request_id or ""}
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return Response(error_body(error, request_id), status_code=HTTP_STATUS[error.code], headers=headers,
                    media_type="application/json")


def foreign_message(parsed) -> str:
    """BentoML's ``{"error": ..., "detail": [pydantic errors]}`` (or any text) -> one readable line."""
    if isinstance(parsed, dict):
        details = parsed.get("detail")
        if isinstance(details, list) and details:
            return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}"
                             for d in details if isinstance(d, dict))[:300]
        return str(parsed.get("error") or parsed)[:300]
    return str(parsed or "request refused")[:300]


def _multipart_header_error(content_type: str | None) -> OcropsError | None:
    if content_type and content_type.lower().startswith("multipart/") and _multipart_parser(content_type) is None:
        return OcropsError(ErrorCode.INVALID_INPUT, "multipart request without a boundary")
    return None


def _multipart_parser(content_type: str | None):
    """A streaming parser that only checks the syntax of a multipart body (None: not multipart, or no boundary)."""
    if not content_type or not content_type.lower().startswith("multipart/"):
        return None
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = parse_options_header(content_type)[1].get(b"boundary")
    return MultipartParser(boundary) if boundary else None


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class Gatekeeper:
    """Pure ASGI middleware; ``settings`` is the service's ServeSettings."""

    def __init__(self, app, settings, api_keys: ApiKeys | None = None) -> None:
        self.app, self.settings = app, settings
        self.keys = api_keys if api_keys is not None else ApiKeys.from_env()
        r = settings.rate_limit
        self.limiter = RateLimiter(r.rate, r.burst) if r.enabled else None
        self.in_flight = 0  # admitted requests (their bodies complete)
        self.receiving = 0  # requests whose bodies are still arriving
        self._metrics = None

    @property
    def metrics(self):
        if self._metrics is None:
            from ocrops.serving.metrics import service_metrics

            self._metrics = service_metrics()
        return self._metrics

    def max_body(self, path: str) -> int:
        per_image = self.settings.max_image_bytes * 4 // 3 + 64_000  # base64 + JSON overhead
        return per_image * (self.settings.max_images if path.endswith("_batch") else 1)

    def body_limits(self, path: str) -> BodyLimits:
        s = self.settings
        return BodyLimits(self.max_body(path), s.body_timeout_s, s.body_idle_s, s.min_body_rate)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        given = _header(scope, REQUEST_ID.encode())
        request_id = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        if path == "/metrics" and scope.get("method") in ("GET", "HEAD"):
            return await self._metrics_page(scope, receive, send)
        if path in ("/", "") or path.startswith(OPEN_PATHS) or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            # probes, docs, the web page: no key, limit or queue; a foreign error still gets our JSON
            return await self.app(scope, receive, self._rewriting(send, request_id, {"status": 0}))

        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != REQUEST_ID.encode()]
        scope["headers"].append((REQUEST_ID.encode(), request_id.encode()))
        started = time.perf_counter()
        status_seen: dict = {"status": 500}
        gone: dict = {}
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers)
        authorized = not self.keys.enabled or self.keys.valid(key)
        # a valid key is its own client; without one (or with a wrong one) the bucket is the client IP, so
        # guessing keys is rate-limited too
        client = key_id(key) if key and authorized else "ip:" + ((scope.get("client") or ("unknown",))[0])

        async def refuse(error: OcropsError, retry_after: int | None = None) -> None:
            self.metrics.shed.labels(code=str(int(error.code))).inc()
            response = error_response(error, request_id, retry_after)
            if error.code == ErrorCode.REQUEST_TIMEOUT:
                response.headers["connection"] = "close"  # the rest of a stalled body must not read as a request
            status_seen["status"] = response.status_code
            try:
                await response(scope, receive, send)
            except OSError:  # the client is gone already
                gone["gone"] = True

        try:
            content_type = _header(scope, b"content-type")
            if (malformed := _multipart_header_error(content_type)) is not None:
                return await refuse(malformed)
            length = _header(scope, b"content-length")
            length = int(length) if length and length.isdigit() else None
            if length is not None and length > self.max_body(path):
                return await refuse(OcropsError(ErrorCode.TOO_LARGE,
                                                f"request body of {length} bytes exceeds {self.max_body(path)}"))
            if self.limiter is not None and (wait := self.limiter.check(client)):
                return await refuse(OcropsError(ErrorCode.RATE_LIMITED, "rate limit exceeded"), retry_after=wait)
            if not authorized:
                return await refuse(OcropsError(ErrorCode.UNAUTHORIZED,
                                                "missing or invalid API key (Authorization: Bearer KEY)"))
            if self.receiving >= self.settings.max_receiving:
                return await refuse(OcropsError(ErrorCode.QUEUE_FULL, "server busy: too many uploads in progress"),
                                    retry_after=self.settings.retry_after_s)
            # the body first, whole and in time: a slow or stalled upload holds a connection, not a queue place
            self.receiving += 1
            try:
                body = await read_body(receive, self.body_limits(path), length, _multipart_parser(content_type))
            except OcropsError as exc:
                return await refuse(exc)
            finally:
                self.receiving -= 1
            if self.in_flight >= self.settings.max_queue_size:
                return await refuse(OcropsError(ErrorCode.QUEUE_FULL, "server busy: queue full, retry later"),
                                    retry_after=self.settings.retry_after_s)
            self.in_flight += 1
            self.metrics.queue_depth.inc()
            try:
                await self.app(scope, body.replay(receive, gone), self._rewriting(send, request_id, status_seen))
            except OSError:  # writing to a client that hung up
                gone["gone"] = True
            finally:
                self.in_flight -= 1
                self.metrics.queue_depth.dec()
        except ClientGone:
            gone["gone"] = True
        finally:
            seconds = time.perf_counter() - started
            if gone.get("gone") and not status_seen.get("sent"):
                status_seen["status"] = CLIENT_CLOSED
            status = str(status_seen["status"])
            endpoint = path if path in API_PATHS else "other"
            self.metrics.requests.labels(endpoint=endpoint, status=status).inc()
            self.metrics.latency.labels(endpoint=endpoint, status=status).observe(seconds)
            # no OCR text, image bytes or keys in the log: who (a salted hash), what, how it went; the path
            # is quoted with every control character escaped, so a request cannot write a line of its own
            log.info("request_id=%s client=%s path=%s status=%s ms=%.1f", request_id, client, quoted(path), status,
                     seconds * 1000)

    async def _metrics_page(self, scope, receive, send) -> None:
        """/metrics: ocrops' families from every process of this server (their labels are bounded)."""
        import anyio
        from starlette.responses import Response

        from ocrops.serving.metrics import exposition

        self.metrics  # noqa: B018 - this worker's families exist (at zero) before the first scrape
        content, media_type = await anyio.to_thread.run_sync(exposition)
        await Response(content, media_type=media_type)(scope, receive, send)

    def _rewriting(self, send, request_id: str, status_seen: dict):
        """Error responses that did not come from ocrops (BentoML's validation, timeouts, 404, 405) get our JSON
        body."""
        state: dict = {"rewrite": None}

        async def wrapped(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                status_seen["status"] = status
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID.encode()]
                headers.append((REQUEST_ID.encode(), request_id.encode()))
                message = {**message, "headers": headers}
                if status in FOREIGN_STATUS:
                    state["rewrite"], state["start"], state["body"] = FOREIGN_STATUS[status], message, b""
                    return
                status_seen["sent"] = True
                return await send(message)
            if message["type"] == "http.response.body" and state["rewrite"] is not None:
                state["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = state["body"]
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = body.decode("utf-8", "replace")[:300]
                if not (isinstance(parsed, dict) and "code" in parsed):
                    body = error_body(OcropsError(state["rewrite"], foreign_message(parsed)), request_id)
                start = state["start"]
                headers = [(k, v) for k, v in start["headers"]
                           if k.lower() not in (b"content-length", b"content-type")]
                headers += [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
                status_seen["sent"] = True
                await send({**start, "headers": headers})
                return await send({"type": "http.response.body", "body": body})
            return await send(message)

        return wrapped
