"""Capture (``serve.capture``, off by default): the lines a request's answer marks ``needs_review`` are offered
here; a sample is queued and written to the capture store by a thread of its own, with personal data masked
in the text, so a request never waits for storage. Full queue: the line is dropped and counted."""

from __future__ import annotations

import contextvars
import logging
import queue
import random
import threading
import time

from PIL import Image

from ocrops.config import CaptureParams
from ocrops.data.captures import CaptureStore, line_record

log = logging.getLogger(__name__)

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("ocrops_request_id", default="-")
SWEEP_EVERY_S = 60.0  # the count and age bounds are enforced this often (and when the worker starts)


class Capture:
    """Offers in, lines written out; ``counter`` (labels: outcome) counts stored, dropped, failed and removed."""

    def __init__(self, settings: CaptureParams, model: dict, counter=None, seed: int | None = None) -> None:
        self.settings, self.model, self.counter = settings, model, counter
        self.store = CaptureStore(settings.url)
        self.queue: queue.Queue = queue.Queue(maxsize=settings.queue)
        self.random = random.Random(seed)
        self._swept_at = 0.0
        self._thread = threading.Thread(target=self._run, name="ocrops-capture", daemon=True)
        self._thread.start()

    def _count(self, outcome: str, n: int = 1) -> None:
        if self.counter is not None and n:
            self.counter.labels(outcome=outcome).inc(n)

    def offer(self, crop: Image.Image, line: dict, model: dict | None = None) -> None:
        """A line as answered by ``model`` (default: the service's first), with its crop: kept (queued) if it
        needs review and the sample takes it."""
        if line.get("needs_review") is not True or self.random.random() >= self.settings.sample:
            return
        record = line_record(line, model or self.model, REQUEST_ID.get())
        try:
            self.queue.put_nowait((crop, record))
        except queue.Full:
            self._count("dropped")

    def _run(self) -> None:
        n = 0
        while True:
            if time.monotonic() - self._swept_at >= SWEEP_EVERY_S:
                self.sweep()
            try:
                item = self.queue.get(timeout=SWEEP_EVERY_S)
            except queue.Empty:
                continue
            if item is None:
                self.queue.task_done()
                return
            crop, record = item
            n += 1
            try:
                self.store.write(crop, record | {"line": n})
                self._count("stored")
            except Exception:  # a full disk or an unreachable bucket must not take the service down
                log.exception("capture: a line could not be stored in %s", self.settings.url)
                self._count("failed")
            finally:
                self.queue.task_done()

    def sweep(self) -> None:
        self._swept_at = time.monotonic()
        try:
            self._count("removed", self.store.sweep(self.settings.max_lines, self.settings.max_age_days))
        except Exception:
            log.exception("capture: the store %s could not be swept", self.settings.url)

    def flush(self) -> None:
        """Wait until every queued line is written (tests, shutdown)."""
        self.queue.join()

    def close(self) -> None:
        self.queue.put(None)
        self._thread.join(timeout=10)
