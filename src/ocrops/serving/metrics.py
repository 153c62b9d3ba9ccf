"""Prometheus metrics of the service (exported at /metrics next to BentoML's own).

Created on first use: BentoML sets PROMETHEUS_MULTIPROC_DIR in each worker after importing the service
module, and prometheus_client must see it when a metric is made, or the worker's values never reach
/metrics.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass(frozen=True)
class ServiceMetrics:
    requests: object
    latency: object
    batch_size: object
    queue_depth: object
    model_info: object
    shed: object


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
    )
