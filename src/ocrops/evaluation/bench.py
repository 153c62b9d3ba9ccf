"""Throughput and latency harness: batch-size sweeps and closed-loop concurrency sweeps.

Engine-agnostic: it times callables, so the benchmark stage measures inference engines with it and the
service load test measures HTTP endpoints with the same code.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from ocrops.env import cpu_fields


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds."""
    if not seconds:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0}
    ms = np.asarray(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(ms.mean())}


def batch_sweep(infer: Callable[[np.ndarray], object], batches_for: Callable[[int], list[np.ndarray]],
                batch_sizes: Sequence[int], lines_per_point: int = 128, warmup: int = 3,
                min_batches: int = 3) -> dict[int, dict]:
    """For each batch size: lines/s and per-batch latency over every prepared batch at least once (so each
    batch size sees the same inputs) and at least ``lines_per_point`` lines.

    ``batches_for(b)`` returns prepared input batches of size ``b``; they are cycled in order.
    """
    results: dict[int, dict] = {}
    for size in batch_sizes:
        batches = batches_for(size)
        for i in range(warmup):
            infer(batches[i % len(batches)])
        times, lines, i = [], 0, 0
        while lines < lines_per_point or len(times) < max(min_batches, len(batches)):
            batch = batches[i % len(batches)]
            started = time.perf_counter()
            infer(batch)
            times.append(time.perf_counter() - started)
            lines += len(batch)
            i += 1
        results[size] = {"lines_per_s": lines / sum(times), "lines": lines, "batches": len(times),
                         **latency_summary(times)}
    return results


def interleaved(measure: dict[str, Callable[[int], dict[int, dict]]], rounds: int = 3) -> dict[str, dict[int, dict]]:
    """Run each engine's sweep ``rounds`` times, engines taking turns (A B C A B C ...), and keep per point the
    median of every figure: a machine that speeds up or slows down during the run biases no engine.

    ``measure[name](round)`` returns ``{batch_size: {figure: value}}``.
    """
    runs: dict[str, list[dict[int, dict]]] = {name: [] for name in measure}
    for r in range(rounds):
        for name, sweep in measure.items():
            runs[name].append(sweep(r))
    merged: dict[str, dict[int, dict]] = {}
    for name, results in runs.items():
        merged[name] = {size: {key: float(np.median([res[size][key] for res in results]))
                               for key in results[0][size]} | {"rounds": len(results)}
                        for size in results[0]}
    return merged


def closed_loop(call: Callable[[int], object], concurrency: int, requests_per_client: int,
                warmup: int = 1) -> dict:
    """``concurrency`` clients, each sending its next request as soon as the last one answered.

    ``call(i)`` makes request ``i`` and raises on failure; returns requests/s, latency and the error count.
    """
    for i in range(warmup):
        call(i)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        for j in range(requests_per_client):
            started = time.perf_counter()
            try:
                call(k * requests_per_client + j)
            except Exception as exc:  # counted, not fatal: overload tests expect some
                with lock:
                    errors.append(type(exc).__name__)
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"concurrency": concurrency, "requests": concurrency * requests_per_client, "ok": len(latencies),
            "errors": len(errors), "error_rate": len(errors) / max(concurrency * requests_per_client, 1),
            "requests_per_s": len(latencies) / wall, **latency_summary(latencies)}


def open_loop(call: Callable[[int], int], rate: float, duration_s: float, max_workers: int = 256) -> dict:
    """Requests sent at a fixed ``rate`` whatever the answers (arrivals do not wait for the server, as real
    traffic does not); ``call(i)`` returns the HTTP status. Latency counts from the scheduled send time, so a
    client falling behind is not hidden (no coordinated omission)."""
    from concurrent.futures import ThreadPoolExecutor

    total = max(1, int(rate * duration_s))
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    ok: list[float] = []
    lock = threading.Lock()

    def send(i: int, due: float) -> None:
        try:
            status = str(call(i))
        except Exception as exc:  # a timeout here is a hang of the server
            with lock:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status == "200":
                ok.append(time.perf_counter() - due)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        for i in range(total):
            due = started + i / rate
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            pool.submit(send, i, due)
    wall = time.perf_counter() - started
    return {"offered_per_s": rate, "sent": total, "seconds": wall, "statuses": dict(sorted(statuses.items())),
            "client_errors": errors, "ok_per_s": len(ok) / wall, **latency_summary(ok)}


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_info() -> dict:
    """What the figures were measured on."""
    cpu = cpu_fields().get("model name") or platform.processor() or ""
    info: dict = {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
                  "python": platform.python_version(),
                  "libraries": {n: _version(n) for n in ("torch", "onnxruntime", "onnxruntime-gpu", "tensorrt",
                                                         "numpy")}}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["gpu"] = None
    try:
        import onnxruntime as ort

        info["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError:
        pass
    return info
