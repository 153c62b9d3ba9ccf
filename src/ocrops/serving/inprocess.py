"""The recognizer inside the API process (the one-process topology): each call's lines go straight to the engine
on a small pool of threads, one engine call per core at once, with no batcher and no second process."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ocrops.errors import OcropsError

if TYPE_CHECKING:
    from ocrops.inference.runtime import PackagedModel
    from ocrops.serving.metrics import ServiceMetrics


def readings(model: PackagedModel, lines: list[Image.Image], batch_size: int, metrics: ServiceMetrics
             ) -> list[dict[str, Any]]:
    """One engine call, as both topologies answer it: {"text", "confidence"} per line, or the call's error on
    every line; the call's size goes to ``ocrops_batch_size``."""
    metrics.batch_size.observe(len(lines))
    try:
        predictions = model.read(lines, batch_size=batch_size)
    except OcropsError as exc:
        return [{"error": exc.to_dict()}] * len(lines)
    return [{"text": p.text, "confidence": float(p.confidence)} for p in predictions]


class InProcessRecognizer:
    """``recognize`` has the signature of the remote recognizer's, so OcrApi takes either.

    ``threads=None``: calls that run side by side take one thread each (a line is too small for an engine call
    to keep two cores busy), and a call that runs alone takes every core, so a lone client is not served at the
    speed of one core; the two are two sessions of one model."""

    def __init__(self, model_root: str | Path, engine: str, threads: int | None, calls: int,
                 batch_size: int) -> None:
        from ocrops.inference.runtime import PackagedModel
        from ocrops.serving.metrics import service_metrics

        side_by_side = threads is None and calls > 1
        self.model = PackagedModel(model_root, engine=engine, threads=1 if side_by_side else threads)
        self.alone = PackagedModel(model_root, engine=self.model.engine_name) if side_by_side else self.model
        self.batch_size, self.calls = batch_size, calls
        self.running, self.lock = 0, threading.Lock()
        # the engine releases the GIL while it runs: calls on these threads use the cores side by side
        self.pool = ThreadPoolExecutor(max_workers=calls, thread_name_prefix="ocrops-engine")
        self.metrics = service_metrics()

    def warm_up(self, batches: int) -> None:
        self.model.warm_up(batches, self.batch_size)
        if self.alone is not self.model:
            self.alone.warm_up(batches, self.batch_size)
        self.metrics.model_info.labels(**{k: str(v) for k, v in self.model.version.items()}).set(1)

    def _read(self, lines: list[Image.Image]) -> list[dict[str, Any]]:
        with self.lock:
            self.running += 1
            model = self.alone if self.running == 1 else self.model
        try:
            return readings(model, lines, self.batch_size, self.metrics)
        finally:
            with self.lock:
                self.running -= 1

    async def recognize(self, lines: list[Image.Image]) -> list[dict[str, Any]]:
        """Line images -> [{"text", "confidence"}], or {"error"} per line of a failed call."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._read, lines)

    def release_memory(self) -> None:
        """The engines' arenas given back (call when no line is being read)."""
        for model in {id(self.model): self.model, id(self.alone): self.alone}.values():
            model.release_memory()

    def describe(self) -> dict[str, Any]:
        return {**self.model.version, "skipped_engines": self.model.skipped, "engine_calls": self.calls}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
