"""Prometheus metrics of the service, exported at /metrics by the Gatekeeper (BentoML's own request families are
off: they label the raw path, one series per path a client makes up).

Created on first use: prometheus_client must see PROMETHEUS_MULTIPROC_DIR, which BentoML gives each worker, when
a metric is made, or the worker's values never reach /metrics.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
# calibrated line confidence: most lines sit near 1, so the buckets are finest there
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 1.0)


@dataclass(frozen=True)
class ServiceMetrics:
    requests: object
    latency: object
    batch_size: object
    queue_depth: object
    model_info: object
    shed: object
    confidence: object
    lines: object
    captured: object


@functools.cache
def service_metrics() -> ServiceMetrics:
    from prometheus_client import Counter, Gauge, Histogram

    return ServiceMetrics(
        requests=Counter("ocrops_requests", "HTTP requests by endpoint and status", ["endpoint", "status"]),
        latency=Histogram("ocrops_request_duration_seconds", "Request latency by endpoint and status",
                          ["endpoint", "status"], buckets=LATENCY_BUCKETS),
        batch_size=Histogram("ocrops_batch_size", "Lines per model call (adaptive batching)",
                             buckets=BATCH_BUCKETS),
        queue_depth=Gauge("ocrops_queue_depth", "Requests admitted and not yet answered",
                          multiprocess_mode="livesum"),
        model_info=Gauge("ocrops_model_info", "The served model (value 1)",
                         ["name", "version", "alias", "engine", "family"], multiprocess_mode="max"),
        shed=Counter("ocrops_rejected", "Requests refused before inference, by error code", ["code"]),
        confidence=Histogram("ocrops_line_confidence", "Answered lines' confidence (calibrated where the model is), "
                             "by the model that read them", ["model"], buckets=CONFIDENCE_BUCKETS),
        lines=Counter("ocrops_lines", "Answered lines, by model and whether they need review (below the model's "
                                      "threshold; 'unknown' for a model without calibration)",
                      ["model", "needs_review"]),
        captured=Counter("ocrops_captured_lines", "Capture store (serve.capture): lines stored, dropped (queue full), "
                                                  "failed (storage error), removed (count and age bounds)",
                         ["outcome"]),
    )


def exposition() -> tuple[bytes, str]:
    """The text format of every worker's metrics (all processes of this server), and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def own_metrics_dir() -> Path | None:
    """In the process that starts a server (no PROMETHEUS_MULTIPROC_DIR yet): give this server a metrics folder of
    its own, removed when it exits. BentoML's default, BENTOML_HOME/prometheus_multiproc_dir, is emptied by every
    server that starts, so two servers on one BENTOML_HOME erased each other's values."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None  # a worker: BentoML gave it the server's folder
    from bentoml._internal.configuration.containers import BentoMLContainer

    folder = Path(tempfile.gettempdir()) / f"ocrops-metrics-{os.getpid()}"
    BentoMLContainer.prometheus_multiproc_dir.set(str(folder))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def observe_lines(metrics: ServiceMetrics, results: list[dict], model: str) -> None:
    """Each answered line's confidence and review flag (drift in what the model doubts shows here first), under
    the name of the model that read it: a bounded label, the service's configured models only."""
    for result in results:
        for line in result.get("lines", ()):
            metrics.confidence.labels(model=model).observe(line["confidence"])
            review = line.get("needs_review")
            metrics.lines.labels(model=model, needs_review="unknown" if review is None else str(review).lower()).inc()
