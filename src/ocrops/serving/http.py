"""HTTP plumbing shared by every endpoint: JSON error bodies with request ids, and the ASGI gatekeeper that
runs before the API (request ids, size limit, API keys, rate limit, admission queue, metrics, logs)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from ocrops.errors import HTTP_STATUS, ErrorCode, OcropsError
from ocrops.serving.auth import ApiKeys, key_id, presented_key
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
FOREIGN_STATUS = {400: ErrorCode.INVALID_INPUT, 413: ErrorCode.TOO_LARGE, 422: ErrorCode.INVALID_INPUT,
                  503: ErrorCode.QUEUE_FULL, 504: ErrorCode.TIMEOUT, 415: ErrorCode.INVALID_INPUT}


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
        self.in_flight = 0
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

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path in ("/", "") or path.startswith(OPEN_PATHS) or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)

        given = _header(scope, REQUEST_ID.encode())
        request_id = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != REQUEST_ID.encode()]
        scope["headers"].append((REQUEST_ID.encode(), request_id.encode()))
        started = time.perf_counter()
        status_seen = {"status": 500}
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers)
        authorized = not self.keys.enabled or self.keys.valid(key)
        # a valid key is its own client; without one (or with a wrong one) the bucket is the client IP, so
        # guessing keys is rate-limited too
        client = key_id(key) if key and authorized else "ip:" + ((scope.get("client") or ("unknown",))[0])

        async def refuse(error: OcropsError, retry_after: int | None = None, status: int | None = None) -> None:
            self.metrics.shed.labels(code=str(int(error.code))).inc()
            response = error_response(error, request_id, retry_after)
            if status:
                response.status_code = status
            status_seen["status"] = response.status_code
            await response(scope, receive, send)

        try:
            if (malformed := _multipart_header_error(_header(scope, b"content-type"))) is not None:
                return await refuse(malformed)
            length = _header(scope, b"content-length")
            if length and length.isdigit() and int(length) > self.max_body(path):
                return await refuse(OcropsError(ErrorCode.TOO_LARGE,
                                                f"request body of {length} bytes exceeds {self.max_body(path)}"))
            if self.limiter is not None and (wait := self.limiter.check(client)):
                return await refuse(OcropsError(ErrorCode.RATE_LIMITED, "rate limit exceeded"), retry_after=wait)
            if not authorized:
                return await refuse(OcropsError(ErrorCode.UNAUTHORIZED,
                                                "missing or invalid API key (Authorization: Bearer KEY)"))
            if self.in_flight >= self.settings.max_queue_size:
                return await refuse(OcropsError(ErrorCode.QUEUE_FULL, "server busy: queue full, retry later"),
                                    retry_after=self.settings.retry_after_s)
            self.in_flight += 1
            self.metrics.queue_depth.inc()
            try:
                overflow: dict = {}
                try:
                    await self.app(scope, self._limited(receive, path, overflow, _header(scope, b"content-type")),
                                   self._rewriting(send, request_id, status_seen, overflow))
                except OcropsError as exc:  # raised while reading the body, before any answer went out
                    if status_seen.get("sent"):
                        raise
                    return await refuse(exc)
            finally:
                self.in_flight -= 1
                self.metrics.queue_depth.dec()
        finally:
            seconds = time.perf_counter() - started
            status = str(status_seen["status"])
            endpoint = path if path in API_PATHS else "other"
            self.metrics.requests.labels(endpoint=endpoint, status=status).inc()
            self.metrics.latency.labels(endpoint=endpoint, status=status).observe(seconds)
            # no OCR text, image bytes or keys in the log: only who (hashed), what, how it went
            log.info("request_id=%s client=%s path=%s status=%s ms=%.1f", request_id, client, path, status,
                     seconds * 1000)

    def _limited(self, receive, path: str, overflow: dict, content_type: str | None = None):
        """The body as the app reads it, cut off past the size limit; a multipart body is checked as it streams
        by (BentoML answers a broken one with a bare 500). The error is kept in ``overflow`` for the answer."""
        limit, seen = self.max_body(path), 0
        parser = _multipart_parser(content_type)

        async def wrapped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:  # chunked uploads carry no Content-Length
                    overflow["error"] = OcropsError(ErrorCode.TOO_LARGE, f"request body exceeds {limit} bytes")
                    raise overflow["error"]
                if parser is not None:
                    try:
                        parser.write(chunk)
                    except Exception as exc:  # python-multipart's parse errors
                        overflow["error"] = OcropsError(ErrorCode.INVALID_INPUT, f"malformed multipart body: {exc}")
                        raise overflow["error"] from exc
            return message

        return wrapped

    def _rewriting(self, send, request_id: str, status_seen: dict, overflow: dict):
        """Error responses that did not come from ocrops (BentoML's validation, timeouts) get our JSON body."""
        state: dict = {"rewrite": None}

        async def wrapped(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                if "error" in overflow:  # _limited refused the body: whatever the app says, that is the answer
                    status = HTTP_STATUS[overflow["error"].code]
                    message = {**message, "status": status}
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
                if "error" in overflow:
                    body = error_body(overflow["error"], request_id)
                elif not (isinstance(parsed, dict) and "code" in parsed):
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
