"""Error codes shared by the CLI and the service (DESIGN.md, "Error codes")."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    UNREADABLE_IMAGE = 4001
    MALFORMED_REQUEST = 4002
    UNAUTHORIZED = 4010  # API keys are on and the request has no valid one
    RATE_LIMITED = 4029
    IMAGE_TOO_LARGE = 5001
    MODEL_NOT_READY = 5002
    OUT_OF_MEMORY = 5003
    TIMEOUT = 5004
    QUEUE_FULL = 5030


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.UNREADABLE_IMAGE: 400,
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.IMAGE_TOO_LARGE: 413,
    ErrorCode.MODEL_NOT_READY: 503,
    ErrorCode.OUT_OF_MEMORY: 507,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.QUEUE_FULL: 503,
}


class OcropsError(Exception):
    """An error a user can act on; carries a DESIGN.md code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message

    def __str__(self) -> str:
        return f"[{int(self.code)}] {self.message}"

    def to_dict(self, request_id: str | None = None) -> dict:
        return {"code": int(self.code), "message": self.message, "request_id": request_id}


class PipelineError(Exception):
    """A stage refuses to go on (e.g. leakage between splits); the message names the rows."""
