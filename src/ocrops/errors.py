"""Error codes shared by the pipeline, the CLI and the service (docs/architecture.md, "Errors").

Names say what went wrong, wherever it happens; the numeric codes and HTTP statuses are the service's
contract and never change.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    UNREADABLE_IMAGE = 4001  # not an image, or a format ocrops does not read
    INVALID_INPUT = 4002  # a request, params file, label or split that does not fit its contract
    UNAUTHORIZED = 4010  # API keys are on and the request has no valid one
    FORBIDDEN = 4030  # a web page of an origin not in serve.cors_origins called the API
    NOT_FOUND = 4040  # no such endpoint
    METHOD_NOT_ALLOWED = 4050  # the endpoint exists, not with this method
    REQUEST_TIMEOUT = 4080  # the request body did not arrive in time (a stalled or too slow upload)
    RATE_LIMITED = 4029
    HEADERS_TOO_LARGE = 4310  # the request line and headers exceed serve.max_header_bytes
    TOO_LARGE = 5001  # an image (bytes, pixels, side) or a request (images) over its limit
    UNAVAILABLE = 5002  # a model, engine, checkpoint or tracking store that cannot be loaded or reached
    OUT_OF_MEMORY = 5003
    TIMEOUT = 5004
    QUEUE_FULL = 5030


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNREADABLE_IMAGE: 400,
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.OUT_OF_MEMORY: 507,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.QUEUE_FULL: 503,
}


class OcropsError(Exception):
    """An error a user can act on; carries one of the codes above."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message

    def __str__(self) -> str:
        return f"[{int(self.code)}] {self.message}"

    def to_dict(self, request_id: str | None = None) -> dict:
        return {"code": int(self.code), "message": self.message, "request_id": request_id}


class PipelineError(Exception):
    """A stage refuses to go on (e.g. leakage between splits); the message names the rows. ``report`` holds what
    the stage measured before refusing (its summary is printed all the same)."""

    def __init__(self, message: str, report: dict | None = None) -> None:
        super().__init__(message)
        self.report = report
