"""ocrops.client's parts that need no server: Retry-After parsing, error answers, payloads, the wait policy.
(Against a real service: tests/integration/test_client.py.)"""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import httpx
import pytest
import tenacity
from PIL import Image

from ocrops.client import (
    OCRClient,
    ServiceError,
    error_from_response,
    error_from_transport,
    image_files,
    image_payload,
    retry_after_seconds,
)
from ocrops.errors import ErrorCode


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_seconds(later) <= 30
    assert retry_after_seconds(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0


def test_an_error_body_becomes_a_service_error_with_its_code():
    response = httpx.Response(429, json={"code": 4029, "message": "rate limit exceeded", "request_id": "r1"},
                              headers={"Retry-After": "2"})
    error = error_from_response(response)
    assert (error.code, error.status, error.request_id, error.retry_after) == (ErrorCode.RATE_LIMITED, 429, "r1", 2)
    assert error.retryable and str(error) == "[4029] rate limit exceeded"


@pytest.mark.parametrize(("status", "code", "retryable"), [(503, ErrorCode.QUEUE_FULL, True),
                                                           (413, ErrorCode.TOO_LARGE, False),
                                                           (502, ErrorCode.UNAVAILABLE, True),
                                                           (404, ErrorCode.NOT_FOUND, False),
                                                           (418, ErrorCode.INVALID_INPUT, False)])
def test_a_body_without_a_code_is_judged_by_its_status(status, code, retryable):
    error = error_from_response(httpx.Response(status, text="<html>proxy error</html>"))
    assert error.code == code and error.retryable is retryable and "proxy error" in error.message


def test_transport_failures_are_unreachable_but_a_read_timeout_is_not_retried():
    refused = error_from_transport(httpx.ConnectError("refused"), "http://x", 5)
    assert refused.code == ErrorCode.UNAVAILABLE and refused.retryable
    late = error_from_transport(httpx.ReadTimeout("slow"), "http://x", 5)
    assert late.code == ErrorCode.TIMEOUT and not late.retryable and "5 s" in late.message


def test_payloads_from_paths_bytes_and_pil_images(tmp_path: Path):
    path = tmp_path / "scan.jpg"
    Image.new("RGB", (8, 8)).save(path)
    assert image_payload(path)[::2] == ("scan.jpg", "image/jpeg")
    assert image_payload(b"\x89PNG")[1:] == (b"\x89PNG", "application/octet-stream")
    name, data, kind = image_payload(Image.new("RGB", (4, 4)))
    assert (name, kind) == ("image.png", "image/png") and data.startswith(b"\x89PNG")


def test_folders_expand_to_their_images_sorted(tmp_path: Path):
    (tmp_path / "b").mkdir()
    for name in ("b/2.png", "1.JPG", "notes.txt", "b/0.tif"):
        (tmp_path / name).write_bytes(b"x")
    single = tmp_path / "notes.txt"
    assert image_files([tmp_path, single]) == [tmp_path / "1.JPG", tmp_path / "b/0.tif", tmp_path / "b/2.png", single]


def test_the_wait_is_the_services_retry_after_capped_else_backoff():
    client = OCRClient("http://127.0.0.1:9", max_retry_wait=5)

    def state_after(exc: BaseException, attempt: int = 1) -> tenacity.RetryCallState:
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        state.attempt_number = attempt
        state.set_exception((type(exc), exc, None))
        return state

    assert client._wait(state_after(ServiceError(5030, "busy", retry_after=2))) == 2
    assert client._wait(state_after(ServiceError(4029, "slow down", retry_after=120))) == 5
    backoff = client._wait(state_after(ServiceError(5002, "unreachable"), attempt=3))
    assert 0 < backoff <= 5
    client.close()


def test_the_api_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("OCROPS_API_KEY", "k-123")
    with OCRClient("http://127.0.0.1:9/") as client:
        assert client._http.headers["authorization"] == "Bearer k-123" and client.url == "http://127.0.0.1:9"
    monkeypatch.delenv("OCROPS_API_KEY")
    with OCRClient("http://127.0.0.1:9") as client:
        assert "authorization" not in client._http.headers
