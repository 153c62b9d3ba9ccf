"""The capture store and the service's capture queue: only lines needing review are kept, their text redacted,
never waited for; the store stays within its count and age bounds."""

from __future__ import annotations

import json
import threading
import time

from PIL import Image
from prometheus_client import CollectorRegistry, Counter

from ocrops.config import CaptureParams
from ocrops.data.captures import CaptureStore
from ocrops.serving.capture import REQUEST_ID, Capture

PHONE, EMAIL = "13812345678", "li.wei@example.com"
BOX = [[0, 0], [50, 0], [50, 10], [0, 10]]


def line(text: str, review: bool | None, confidence: float = 0.5) -> dict:
    entry = {"text": text, "raw_text": text, "confidence": confidence, "box": BOX}
    return entry if review is None else entry | {"needs_review": review}


def counter() -> Counter:
    return Counter("captured", "test", ["outcome"], registry=CollectorRegistry())


def count(c: Counter, outcome: str) -> float:
    return c.labels(outcome=outcome)._value.get()


def test_only_lines_needing_review_are_kept_with_their_text_redacted(tmp_path):
    c = counter()
    capture = Capture(CaptureParams(enabled=True, url=str(tmp_path / "store")), {"name": "ocrops", "version": "3"},
                      c)
    crop = Image.new("RGB", (50, 10), "white")
    REQUEST_ID.set("req-1")
    capture.offer(crop, line(f"call {PHONE} or {EMAIL}", True))
    capture.offer(crop, line("sure", False, 0.99))
    capture.offer(crop, line("uncalibrated", None))
    capture.flush()
    stored = list(CaptureStore(str(tmp_path / "store")))
    assert len(stored) == 1 and count(c, "stored") == 1
    record = stored[0].record
    assert record["text"] == record["raw_text"] == "call [PHONE] or [EMAIL]"
    assert PHONE not in json.dumps(record) and EMAIL not in json.dumps(record)
    assert record["request_id"] == "req-1" and record["model"] == {"name": "ocrops", "version": "3"}
    assert record["box"] == BOX and record["confidence"] == 0.5
    assert Image.open(__import__("io").BytesIO(stored[0].image)).size == (50, 10)
    assert not {"api_key", "authorization", "headers"} & set(record)
    capture.close()


def test_sample_share_and_a_full_queue_never_blocks(tmp_path):
    none = Capture(CaptureParams(enabled=True, url=str(tmp_path / "none"), sample=0.0), {}, counter(), seed=0)
    for _ in range(20):
        none.offer(Image.new("RGB", (4, 4)), line("x", True))
    none.flush()
    assert CaptureStore(str(tmp_path / "none")).ids() == []

    c = counter()
    slow = Capture(CaptureParams(enabled=True, url=str(tmp_path / "slow"), queue=2), {}, c)
    gate = threading.Event()
    write = slow.store.write
    slow.store.write = lambda *a, **k: (gate.wait(10), write(*a, **k))[1]  # storage that hangs until released
    started = time.perf_counter()
    for _ in range(10):
        slow.offer(Image.new("RGB", (4, 4)), line("x", True))
    assert time.perf_counter() - started < 1.0  # offers return at once, whatever storage does
    gate.set()
    slow.flush()
    stored, dropped = count(c, "stored"), count(c, "dropped")
    assert stored + dropped == 10 and dropped >= 7 and len(CaptureStore(str(tmp_path / "slow")).ids()) == stored


def test_store_keeps_its_bounds_oldest_first(tmp_path):
    store = CaptureStore(str(tmp_path))
    day = 86400
    now = 1_800_000_000.0
    crop = Image.new("RGB", (4, 4))
    ids = [store.write(crop, {"request_id": f"r{k}", "line": 1}, now=now - age * day)
           for k, age in enumerate([40, 10, 3, 2, 1, 0.5])]
    assert store.ids() == ids  # oldest first, across day folders
    assert store.sweep(max_lines=3, max_age_days=30, now=now) == 3  # one too old, then the two oldest
    assert store.ids() == ids[3:]
    assert store.sweep(max_lines=3, max_age_days=30, now=now) == 0
    assert all(c.record["id"] in ids for c in store)


def test_store_on_an_fsspec_url():
    store = CaptureStore("memory://ocrops-captures")
    line_id = store.write(Image.new("RGB", (8, 4)), {"request_id": "r", "line": 1})
    assert store.ids() == [line_id] and store.read(line_id).record["request_id"] == "r"
    store.remove(line_id)
    assert store.ids() == []
