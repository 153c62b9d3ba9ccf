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


async def read_body(receive, limits: BodyLimits, length: int | None, parser=None) -> Body:
    """The whole body; 4080 when it does not arrive in time, 5001 past ``max_bytes`` (chunked uploads carry no
    Content-Length), 4002 for a broken multipart body; ClientGone when the client hangs up."""
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
        if parser is not None:
            try:
                parser.write(chunk)
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
