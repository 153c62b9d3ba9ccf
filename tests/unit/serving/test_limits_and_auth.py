"""Rate limiting, API keys, payload decoding and settings of the service (no server)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from conftest import png_with_declared_size, truncated_png
from ocrops.errors import ErrorCode, OcropsError
from ocrops.inference.inputs import PayloadLimits, decode_base64, image_from_base64
from ocrops.serving.auth import ApiKeys, key_id, presented_key
from ocrops.serving.ratelimit import RateLimiter, TokenBucket
from ocrops.serving.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_refills_at_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(0.5)
    clock.now = 0.5
    assert bucket.take() == 0
    clock.now = 100
    assert [bucket.take() for _ in range(4)][:3] == [0, 0, 0]  # never more than the burst


def test_rate_limiter_keeps_one_bucket_per_client_and_forgets_the_oldest():
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, max_clients=2, clock=clock)
    assert limiter.check("a") == 0 and limiter.check("a") == 1  # Retry-After in whole seconds
    assert limiter.check("b") == 0
    limiter.check("c")  # "a" is forgotten: a fresh bucket
    assert limiter.check("a") == 0


def test_api_keys_accept_only_configured_keys():
    keys = ApiKeys(["k1", "k2"])
    assert keys.enabled and keys.valid("k1") and keys.valid("k2")
    assert not keys.valid("k3") and not keys.valid("") and not keys.valid(None)
    assert not ApiKeys([]).enabled
    assert key_id("k1") != key_id("k2") and "k1" not in key_id("k1")


def test_keys_come_from_env_and_file(monkeypatch, tmp_path):
    (tmp_path / "keys").write_text("from-file\n\n")
    monkeypatch.setenv("OCROPS_API_KEYS", "a, b")
    monkeypatch.setenv("OCROPS_API_KEYS_FILE", str(tmp_path / "keys"))
    keys = ApiKeys.from_env()
    assert keys.valid("a") and keys.valid("b") and keys.valid("from-file") and not keys.valid("")


def test_presented_key_reads_bearer_and_x_api_key():
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"x-api-key": "xyz"}) == "xyz"
    assert presented_key({"authorization": "Basic abc"}) is None


def _png(size=(40, 20)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize(("payload", "code"), [
    ("", ErrorCode.INVALID_INPUT),
    ("***", ErrorCode.INVALID_INPUT),
    ("data:image/png,abc", ErrorCode.INVALID_INPUT),  # not base64
    (base64.b64encode(b"hello").decode(), ErrorCode.UNREADABLE_IMAGE),
    (base64.b64encode(truncated_png()).decode(), ErrorCode.UNREADABLE_IMAGE),
    (base64.b64encode(png_with_declared_size(50_000, 50_000)).decode(), ErrorCode.TOO_LARGE),
    (_png((5001, 10)), ErrorCode.TOO_LARGE),
])
def test_bad_payloads_get_their_code(payload, code):
    with pytest.raises(OcropsError) as caught:
        image_from_base64(payload, PayloadLimits())
    assert caught.value.code == code


def test_payloads_decode_plain_and_as_data_uri():
    assert image_from_base64(_png(), PayloadLimits()).size == (40, 20)
    assert image_from_base64("data:image/png;base64," + _png(), PayloadLimits()).mode == "RGB"


def test_oversized_base64_is_refused_before_decoding():
    with pytest.raises(OcropsError) as caught:
        decode_base64("A" * 4000, PayloadLimits(max_bytes=1000))
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_settings_come_from_params_and_env_overrides(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text("serve:\n  max_batch_size: 8\n  rate_limit:\n    rate: 5\n")
    settings = load_settings(tmp_path / "params.yaml")
    assert settings.max_batch_size == 8 and settings.rate_limit.rate == 5 and settings.rate_limit.burst == 100
    monkeypatch.setenv("OCROPS_SERVE_MAX_BATCH_SIZE", "4")
    monkeypatch.setenv("OCROPS_SERVE_RATE_LIMIT__ENABLED", "false")
    monkeypatch.setenv("MODEL_TIMEOUT", "2.5")
    monkeypatch.setenv("MAX_QUEUE_SIZE", "7")
    settings = load_settings(tmp_path / "params.yaml")
    assert settings.max_batch_size == 4 and not settings.rate_limit.enabled and settings.rate_limit.rate == 5
    assert settings.timeout_s == 2.5 and settings.max_queue_size == 7


def test_invalid_settings_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("OCROPS_SERVE_MAX_QUEUE_SIZE", "0")
    with pytest.raises(ValueError):
        load_settings(None)
