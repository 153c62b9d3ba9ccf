"""Receiving a request body before the request is admitted: whole, within a deadline, at a minimum rate.

A request counts toward the service's queue only once its body is complete, so clients that open requests
and send their bodies slowly (or never) hold a connection each, not a place in the queue: other clients,
whatever their key, are still served. The body is checked as it arrives (size, multipart syntax) and then
replayed to the application unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ocrops.errors import ErrorCode, OcropsError


class ClientGone(Exception):
    """The client closed the connection before its request was complete (logged and counted as 499)."""


@dataclass(frozen=True)
class BodyLimits:
    max_bytes: int
    timeout_s: float  # the whole body, plus its size at min_rate
    idle_s: float  # the longest silence between two pieces
    min_rate: int  # bytes per second a large body must keep up

    def deadline_s(self, length: int | None) -> float:
        return self.timeout_s + (length or 0) / self.min_rate


@dataclass
class Body:
    messages: list[dict] = field(default_factory=list)
    size: int = 0

    def replay(self, receive, gone: dict):
        """A ``receive`` for the application: the buffered body, then the connection's own events (a
        disconnect is noted in ``gone``)."""
        pending = list(self.messages) or [{"type": "http.request", "body": b"", "more_body": False}]

        async def replayed() -> dict:
            if pending:
                return pending.pop(0)
            message = await receive()
            if message["type"] == "http.disconnect":
                gone["gone"] = True
            return message

        return replayed


# parts of one multipart body (Starlette refuses more than 1,000 with an error BentoML answers as a bare 500;
# the API takes one file and a few fields)
MAX_PARTS = 100
# an uploaded file's name becomes part of a temporary file's name (at most 255 bytes, with BentoML's prefix)
MAX_FILENAME_BYTES = 200


class MultipartCheck:
    """Callbacks for python-multipart's streaming parser: refuses (4002) too many parts and overlong file names
    while the body arrives, before any of it reaches BentoML."""

    def __init__(self) -> None:
        self.parts = 0
        self._field, self._value = b"", b""

    def callbacks(self) -> dict:
        return {"on_part_begin": self._part, "on_header_field": self._field_data, "on_header_value": self._value_data,
                "on_header_end": self._header_end}

    def _part(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise OcropsError(ErrorCode.INVALID_INPUT, f"multipart body with more than {MAX_PARTS} parts")

    def _field_data(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _value_data(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        field, value, self._field, self._value = self._field, self._value, b"", b""
        if field.strip().lower() != b"content-disposition":
            return
        from python_multipart.multipart import parse_options_header

        filename = parse_options_header(value)[1].get(b"filename") or b""
        if len(filename) > MAX_FILENAME_BYTES:
            raise OcropsError(ErrorCode.INVALID_INPUT, f"file name of {len(filename)} bytes; at most "
                                                       f"{MAX_FILENAME_BYTES}")


async def read_body(receive, limits: BodyLimits, length: int | None, parser=None, take=None) -> Body:
    """The whole body; 4080 when it does not arrive in time, 5001 past ``max_bytes`` (chunked uploads carry no
    Content-Length), 4002 for a broken multipart body; ClientGone when the client hangs up. ``take(n)`` is
    told of every chunk of a body of unknown length (it raises to refuse it: the worker's byte budget)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.deadline_s(length)
    body = Body()
    while True:
        wait = min(limits.idle_s, deadline - loop.time())
        if wait <= 0:
            raise _late(body, limits, length)
        try:
            message = await asyncio.wait_for(receive(), wait)
        except TimeoutError:
            raise _late(body, limits, length) from None
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        body.size += len(chunk)
        if body.size > limits.max_bytes:
            raise OcropsError(ErrorCode.TOO_LARGE, f"request body exceeds {limits.max_bytes} bytes")
        if take is not None and length is None:
            take(len(chunk))
        if parser is not None:
            try:
                parser.write(chunk)
            except OcropsError:
                raise
            except Exception as exc:  # python-multipart's parse errors
                raise OcropsError(ErrorCode.INVALID_INPUT, f"malformed multipart body: {exc}") from exc
        body.messages.append(message)
        if not message.get("more_body", False):
            return body


def _late(body: Body, limits: BodyLimits, length: int | None) -> OcropsError:
    expected = f" of {length}" if length else ""
    return OcropsError(ErrorCode.REQUEST_TIMEOUT,
                       f"request body not received in time ({body.size}{expected} bytes; the body must arrive "
                       f"within {limits.timeout_s:g} s plus {limits.min_rate} bytes/s, with no pause over "
                       f"{limits.idle_s:g} s)")
