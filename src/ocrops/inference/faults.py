"""Fault injection for the reliability tests: wraps the packaged model's reader when ``OCROPS_INJECT_FAULT``
is set (never in normal operation; the service logs a warning when it is).

``oom_above:N``  reading more than N lines at once raises an out-of-memory error (N=0: every call)
``raise``        every call raises RuntimeError
``hang:S``       every call sleeps S seconds first
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from PIL import Image

from ocrops.inference.types import Prediction, Reader

log = logging.getLogger(__name__)
FAULT_ENV = "OCROPS_INJECT_FAULT"


class FaultyReader:
    def __init__(self, reader: Reader, fault: str) -> None:
        self.reader, self.fault = reader, fault
        kind, _, arg = fault.partition(":")
        if kind not in ("oom_above", "raise", "hang"):
            raise ValueError(f"unknown fault {fault!r}")
        self.kind, self.arg = kind, float(arg or 0)

    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]:
        if self.kind == "oom_above" and len(images) > self.arg:
            raise MemoryError(f"injected: out of memory for a batch of {len(images)}")
        if self.kind == "raise":
            raise RuntimeError("injected: model failure")
        if self.kind == "hang":
            time.sleep(self.arg)
        return self.reader.predict(images, batch_size=batch_size)


def wrap_reader(reader: Reader) -> Reader:
    fault = os.environ.get(FAULT_ENV)
    if not fault:
        return reader
    log.warning("fault injection active: %s=%s", FAULT_ENV, fault)
    return FaultyReader(reader, fault)
