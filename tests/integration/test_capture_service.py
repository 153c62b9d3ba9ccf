"""Capture against a real `bentoml serve`: with serve.capture on, a line the answer marks needs_review is kept
(crop + redacted reading + request id) and counted in /metrics; a sure line is not; with capture off (the
default) nothing is written at all."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
import requests
from PIL import ImageFilter

from conftest import line_image, serve
from ocrops.data.captures import CaptureStore

pytestmark = pytest.mark.integration
PHONE = "13812345678"


def png(image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def ask(url: str, image, **fields) -> dict:
    response = requests.post(url + "/ocr", json={"image": png(image), "mode": "line", **fields}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def lines(url: str) -> tuple[dict, dict]:
    sure = ask(url, line_image("Hemoglobin 135 g/L", size=(330, 40)))
    # a slightly blurred phone line: read right, with less confidence; the client turns PII masking off
    doubted = ask(url, line_image(f"Tel {PHONE}", size=(330, 40)).filter(ImageFilter.GaussianBlur(0.8)),
                  redact_pii=False)
    return sure, doubted


def wait_for(store: CaptureStore, n: int, timeout_s: float = 20) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(store.ids()) < n:
        time.sleep(0.2)
    return list(store)


def test_capture_keeps_doubted_lines_redacted_and_counts_them(bento, tmp_path):
    folder = tmp_path / "captures"
    with serve(bento, OCROPS_SERVE_CAPTURE__ENABLED="true", OCROPS_SERVE_CAPTURE__URL=str(folder)) as url:
        sure, doubted = lines(url)
        assert sure["lines"][0]["needs_review"] is False
        assert doubted["lines"][0]["needs_review"] is True and PHONE in doubted["text"]  # the answer as asked
        [kept] = wait_for(CaptureStore(str(folder)), 1)
        time.sleep(1)  # nothing else arrives
        metrics = requests.get(url + "/metrics", timeout=10).text
    assert len(CaptureStore(str(folder)).ids()) == 1
    record = kept.record
    assert record["request_id"] == doubted["request_id"] and record["confidence"] == doubted["lines"][0]["confidence"]
    assert record["text"] == "Tel [PHONE]" and PHONE not in json.dumps(record)
    assert record["model"]["version"] == doubted["model"]["version"]
    assert kept.image[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'ocrops_captured_lines_total{outcome="stored"} 1.0' in metrics
    model = doubted["model"]["name"]  # the lines are counted under the model that read them
    assert f'ocrops_lines_total{{model="{model}",needs_review="true"}} 1.0' in metrics
    assert f'ocrops_lines_total{{model="{model}",needs_review="false"}} 1.0' in metrics
    assert "ocrops_line_confidence_bucket" in metrics


def test_nothing_is_captured_with_capture_off(bento, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default store, `captures`, would be made here
    with serve(bento) as url:
        _, doubted = lines(url)
        assert doubted["lines"][0]["needs_review"] is True
        time.sleep(2)
        metrics = requests.get(url + "/metrics", timeout=10).text
    assert not (tmp_path / "captures").exists()
    assert "ocrops_captured_lines_total{" not in metrics
