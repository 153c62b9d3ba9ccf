"""HTTP plumbing shared by every endpoint: JSON error bodies with request ids, and the ASGI gatekeeper that
runs before the API (request ids, browser headers, web origins, size limits, API keys, rate limit, the body
received whole and in time within the worker's byte budget, admission queue, metrics, logs)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from ocrops.errors import HTTP_STATUS, ErrorCode, OcropsError
from ocrops.serving.auth import ApiKeys, key_id, presented_key
from ocrops.serving.body import BodyLimits, ClientGone, MultipartCheck, read_body
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
# on every answer: no script, style, frame or request from anywhere but this origin (the web page keeps an API key
# in sessionStorage; BentoML's API explorer page loaded a tag manager), no MIME sniffing, no framing, no referrer
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                 b"img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
CORS_HEADERS = "authorization, content-type, x-api-key, x-request-id"


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


def answer_response(answer: Any):
    """An endpoint's answer as JSON in UTF-8 (text as written, not ``\\u`` escapes), floats tidied; or a
    document written in another format (``ocrops.formats.Rendered``), with the file name it would be saved as."""
    from urllib.parse import quote

    from starlette.responses import Response

    if not isinstance(answer, dict):
        disposition = f"inline; filename*=UTF-8''{quote(answer.filename)}"
        return Response(answer.body, media_type=answer.media_type, headers={"Content-Disposition": disposition})
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
    """A streaming parser that checks a multipart body's syntax, parts and file names (None: not multipart, or no
    boundary)."""
    if not content_type or not content_type.lower().startswith("multipart/"):
        return None
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = parse_options_header(content_type)[1].get(b"boundary")
    return MultipartParser(boundary, MultipartCheck().callbacks()) if boundary else None


def with_security_headers(headers: list) -> list:
    names = {name for name, _ in SECURITY_HEADERS}
    return [(k, v) for k, v in headers if k.lower() not in names] + SECURITY_HEADERS


def _host(value: str | None) -> str:
    """``https://Host:443`` or ``host:443`` -> ``host:443``, lowercase (default ports kept as sent)."""
    value = (value or "").strip().lower()
    return value.split("://", 1)[-1].rstrip("/")


def foreign_origin(scope, listed: bool) -> str | None:
    """The web origin of a page calling the API from elsewhere, if it is not allowed (None: a program, this
    service's own page, or an origin in ``serve.cors_origins``: ``listed``). Browsers say where a request comes
    from in Sec-Fetch-Site (fetch metadata) and Origin; programs send neither."""
    origin = _header(scope, b"origin")
    site = _header(scope, b"sec-fetch-site")
    if listed or site in ("same-origin", "none") or (origin is None and site is None):
        return None
    if origin is not None and site is None:  # a browser without fetch metadata: compare hosts
        own = _header(scope, b"x-forwarded-host") or _header(scope, b"host")
        if _host(origin) == _host(own):
            return None
    return origin or f"a {site} page"


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
        self.bytes_held = 0  # body bytes of requests arriving or in flight (declared, or received so far)
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in settings.cors_origins)
        self._metrics = None

    @property
    def metrics(self):
        if self._metrics is None:
            from ocrops.serving.metrics import service_metrics

            self._metrics = service_metrics()
        return self._metrics

    def max_body(self, path: str) -> int:
        per_image = self.settings.max_image_bytes * 4 // 3 + 64_000  # base64 + JSON overhead
        return min(per_image * (self.settings.max_images if path.endswith("_batch") else 1),
                   self.settings.max_request_bytes)

    def body_limits(self, path: str) -> BodyLimits:
        s = self.settings
        return BodyLimits(self.max_body(path), s.body_timeout_s, s.body_idle_s, s.min_body_rate)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        given = _header(scope, REQUEST_ID.encode())
        request_id = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        origin = _header(scope, b"origin")
        cors_origin = origin if origin and origin.rstrip("/").lower() in self.allowed_origins else None
        if scope.get("method") == "OPTIONS" and cors_origin and _header(scope, b"access-control-request-method"):
            return await self._preflight(scope, receive, send, cors_origin)
        status_seen: dict = {"status": 500}
        send = self._rewriting(send, request_id, status_seen, cors_origin)
        if path == "/metrics" and scope.get("method") in ("GET", "HEAD"):
            return await self._metrics_page(scope, receive, send)
        if path in ("/", "") or path.startswith(OPEN_PATHS) or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            # probes, docs, the web page: no key, limit or queue; a foreign error still gets our JSON
            return await self.app(scope, receive, send)

        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != REQUEST_ID.encode()]
        scope["headers"].append((REQUEST_ID.encode(), request_id.encode()))
        started = time.perf_counter()
        gone: dict = {}
        held = {"bytes": 0}
        body_pending = True
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        key = presented_key(headers)
        authorized = not self.keys.enabled or self.keys.valid(key)
        # a valid key is its own client; without one (or with a wrong one) the bucket is the client IP, so
        # guessing keys is rate-limited too
        client = key_id(key) if key and authorized else "ip:" + ((scope.get("client") or ("unknown",))[0])

        async def refuse(error: OcropsError, retry_after: int | None = None) -> None:
            self.metrics.shed.labels(code=str(int(error.code))).inc()
            response = error_response(error, request_id, retry_after)
            if body_pending:
                response.headers["connection"] = "close"  # the rest of an unread body must not read as a request
            status_seen["status"] = response.status_code
            try:
                await response(scope, receive, send)
            except OSError:  # the client is gone already
                gone["gone"] = True

        def take(size: int) -> None:
            """Count ``size`` more body bytes against the worker's budget (5030 over it)."""
            if self.bytes_held + size > self.settings.max_worker_bytes:
                raise OcropsError(ErrorCode.QUEUE_FULL, "server busy: too many request bytes held, retry later")
            self.bytes_held += size
            held["bytes"] += size

        try:
            if (elsewhere := foreign_origin(scope, listed=cors_origin is not None)) is not None:
                return await refuse(OcropsError(ErrorCode.FORBIDDEN, f"requests from web pages of {elsewhere[:80]} "
                                                "are refused; list the origin in serve.cors_origins to allow it"))
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
            try:
                if length is not None:
                    take(length)
                # the body first, whole and in time: a slow or stalled upload holds a connection, not a queue place
                self.receiving += 1
                try:
                    body = await read_body(receive, self.body_limits(path), length, _multipart_parser(content_type),
                                           take)
                finally:
                    self.receiving -= 1
            except OcropsError as exc:
                return await refuse(exc, self.settings.retry_after_s if exc.code == ErrorCode.QUEUE_FULL else None)
            body_pending = False
            if self.in_flight >= self.settings.max_queue_size:
                return await refuse(OcropsError(ErrorCode.QUEUE_FULL, "server busy: queue full, retry later"),
                                    retry_after=self.settings.retry_after_s)
            self.in_flight += 1
            self.metrics.queue_depth.inc()
            try:
                await self.app(scope, body.replay(receive, gone), send)
            except OSError:  # writing to a client that hung up
                gone["gone"] = True
            finally:
                self.in_flight -= 1
                self.metrics.queue_depth.dec()
        except ClientGone:
            gone["gone"] = True
        finally:
            self.bytes_held -= held["bytes"]
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

    async def _preflight(self, scope, receive, send, origin: str) -> None:
        """A CORS preflight from an origin in ``serve.cors_origins``."""
        from starlette.responses import Response

        headers = {"access-control-allow-origin": origin, "access-control-allow-methods": "POST, GET",
                   "access-control-allow-headers": CORS_HEADERS, "access-control-max-age": "600", "vary": "Origin"}
        await Response(status_code=204, headers=headers)(scope, receive, self._rewriting(send, "", {}))

    def _rewriting(self, send, request_id: str, status_seen: dict, cors_origin: str | None = None):
        """Every answer gets the request id and the browser headers (and, for an allowed web origin, CORS
        headers); error responses that did not come from ocrops (BentoML's validation, timeouts, 404, 405) get
        our JSON body."""
        state: dict = {"rewrite": None}

        async def wrapped(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                status_seen["status"] = status
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID.encode()]
                if request_id:
                    headers.append((REQUEST_ID.encode(), request_id.encode()))
                if cors_origin is not None:
                    headers += [(b"access-control-allow-origin", cors_origin.encode("latin-1")), (b"vary", b"Origin"),
                                (b"access-control-expose-headers", b"x-request-id, retry-after")]
                message = {**message, "headers": with_security_headers(headers)}
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
