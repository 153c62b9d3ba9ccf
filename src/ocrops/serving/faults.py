"""Fault injection for the reliability tests: wraps the inference engine when ``OCROPS_INJECT_FAULT`` is
set (never in normal operation; the service logs a warning when it is).

``oom_above:N``  batches of more than N lines raise an out-of-memory error (N=0: every batch)
``raise``        every batch raises RuntimeError
``hang:S``       every batch sleeps S seconds first
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

log = logging.getLogger(__name__)
FAULT_ENV = "OCROPS_INJECT_FAULT"


class FaultyEngine:
    def __init__(self, engine, fault: str) -> None:
        self.engine, self.fault = engine, fault
        self.name = getattr(engine, "name", "engine")
        kind, _, arg = fault.partition(":")
        if kind not in ("oom_above", "raise", "hang"):
            raise ValueError(f"unknown fault {fault!r}")
        self.kind, self.arg = kind, float(arg or 0)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        if self.kind == "oom_above" and len(batch) > self.arg:
            raise MemoryError(f"injected: out of memory for a batch of {len(batch)}")
        if self.kind == "raise":
            raise RuntimeError("injected: model failure")
        if self.kind == "hang":
            time.sleep(self.arg)
        return self.engine.infer(batch)


def wrap_engine(engine):
    fault = os.environ.get(FAULT_ENV)
    if not fault:
        return engine
    log.warning("fault injection active: %s=%s", FAULT_ENV, fault)
    return FaultyEngine(engine, fault)
