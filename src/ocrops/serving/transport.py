"""The HTTP connection layer under BentoML (uvicorn), for what happens before a request reaches any ASGI app,
the Gatekeeper included: the request line and headers are bounded in bytes (431, JSON, code 4310), and a
request the HTTP parser refuses (smuggling attempts, garbage) is answered as JSON (400, code 4002), not
uvicorn's plain text.

uvicorn's httptools parser keeps headers in memory until they end, with no limit: one connection sending a
header without end held 10 MB, fifty held half a gigabyte. BentoML builds uvicorn's config itself and offers
no protocol setting, so ``install`` replaces uvicorn's "auto" protocol with the classes here, in the worker,
before BentoML starts its server (bentos/service.py calls it when imported).
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from uvicorn.protocols.http.h11_impl import H11Protocol

from ocrops.errors import ErrorCode, OcropsError

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # no httptools: uvicorn's "auto" would take h11 too
    HttpToolsProtocol = None

DEFAULT_MAX_HEADER_BYTES = 65_536


def _answer_bytes(status: int, code: ErrorCode, message: str, default_headers: list) -> bytes:
    from ocrops.serving.http import SECURITY_HEADERS, error_body

    body = error_body(OcropsError(code, message), None)
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
    headers = [*default_headers, (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close"), *SECURITY_HEADERS]
    head += [name + b": " + value + b"\r\n" for name, value in headers]
    return b"".join(head) + b"\r\n" + body


# after a refusal, what the client still sends is read and dropped for a while before the connection closes:
# closing a socket with unread bytes resets it, and a reset can destroy the answer before the client reads it
LINGER_S = 2.0
LINGER_BYTES = 1_000_000


class JsonErrors:
    """The parser's refusals as JSON, then the connection closed (gracefully: see LINGER_S)."""

    _dropped: int | None = None

    def answer_and_close(self, status: int, code: ErrorCode, message: str) -> None:
        if self.transport.is_closing() or self._dropped is not None:
            return
        self.transport.write(_answer_bytes(status, code, message, self.server_state.default_headers))
        self._dropped = 0
        try:
            self.transport.write_eof()  # the answer is all we send; their bytes are read and dropped
        except (OSError, RuntimeError, NotImplementedError):
            self.transport.close()
            return
        asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._dropped is not None:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:  # uvicorn's message: "Invalid HTTP request received."
        self.answer_and_close(400, ErrorCode.INVALID_INPUT, "invalid HTTP request: the request line, headers or "
                                                            "framing (Content-Length, Transfer-Encoding) do not parse")


class JsonH11Protocol(JsonErrors, H11Protocol):
    """uvicorn's h11 protocol (where httptools is not installed): its own limit on incomplete headers (16 kB)
    answers 400."""


if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(JsonErrors, HttpToolsProtocol):
        """uvicorn's httptools protocol with a bound on the request line and headers."""

        max_header_bytes = DEFAULT_MAX_HEADER_BYTES

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_bytes, self._in_head = 0, True

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # counted after parsing: the bytes of a request whose headers are not complete yet (a chunk that
            # also holds the previous request's end counts whole: a bound, not an exact size)
            if self._dropped is None and getattr(self, "_in_head", False) and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > self.max_header_bytes:
                    self.answer_and_close(431, ErrorCode.HEADERS_TOO_LARGE,
                                          f"request line and headers exceed {self.max_header_bytes} bytes")


def install(max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> str:
    """Make a class here uvicorn's "auto" HTTP protocol in this process; returns its import path."""
    import uvicorn.config

    if HttpToolsProtocol is None:
        name = "JsonH11Protocol"
    else:
        name = "BoundedHttpToolsProtocol"
        BoundedHttpToolsProtocol.max_header_bytes = max_header_bytes
    uvicorn.config.HTTP_PROTOCOLS["auto"] = f"{__name__}:{name}"
    return uvicorn.config.HTTP_PROTOCOLS["auto"]
