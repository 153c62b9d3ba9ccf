"""The engine inside the API process (the one-process topology) on the test bento's packaged PP-OCRv4: what it
reads, side by side and alone, and how a failing engine answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image

from conftest import line_image
from ocrops.evaluation.metrics import cer
from ocrops.serving.inprocess import InProcessRecognizer

pytestmark = pytest.mark.integration
TEXTS = ["Hemoglobin 135 g/L", "Creatinine 88 umol/L", "Glucose 5.4 mmol/L", "Sodium 141 mmol/L"]


@pytest.fixture(scope="module")
def model_root(bento) -> Path:
    _, env = bento
    return next((Path(env["BENTOML_HOME"]) / "models" / "ocrops-model").glob("*/package.json")).parent


def lines() -> list[Image.Image]:
    return [line_image(t, (320, 40)).convert("RGB") for t in TEXTS]


def test_calls_side_by_side_read_what_one_call_alone_reads(model_root):
    engine = InProcessRecognizer(model_root, "auto", None, calls=3, batch_size=8)
    assert engine.alone is not engine.model  # one-thread sessions side by side, an all-core one alone
    alone = asyncio.run(engine.recognize(lines()))

    async def together():
        return await asyncio.gather(*(engine.recognize([line]) for line in lines() * 3))

    side_by_side = asyncio.run(together())
    engine.close()
    assert [r["text"] for r in alone] == [r[0]["text"] for r in side_by_side[:4]] == \
        [r[0]["text"] for r in side_by_side[4:8]]
    assert cer([a["text"] for a in alone], TEXTS) < 0.2, alone


def test_one_call_at_a_time_or_fixed_threads_use_one_session(model_root):
    for calls, threads in ((1, None), (3, 2)):
        engine = InProcessRecognizer(model_root, "auto", threads, calls=calls, batch_size=8)
        assert engine.alone is engine.model
        engine.close()


def test_a_failing_engine_answers_an_error_per_line(model_root, monkeypatch):
    monkeypatch.setenv("OCROPS_INJECT_FAULT", "raise")
    engine = InProcessRecognizer(model_root, "auto", None, calls=2, batch_size=8)
    answers = asyncio.run(engine.recognize(lines()[:2]))
    engine.close()
    assert [a["error"]["code"] for a in answers] == [5002, 5002]
