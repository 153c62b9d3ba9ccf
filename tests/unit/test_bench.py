"""The benchmark harness counts what it times (no timing assertions: figures are for reports)."""

from __future__ import annotations

import numpy as np

from ocrops.evaluation.bench import batch_sweep, closed_loop, interleaved, latency_summary, machine_info


def test_latency_summary_orders_percentiles():
    summary = latency_summary([0.001 * i for i in range(1, 101)])
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= 100
    assert summary["p50_ms"] == np.percentile(np.arange(1, 101), 50)
    assert latency_summary([])["p99_ms"] == 0


def test_batch_sweep_times_at_least_the_requested_lines_per_batch_size():
    seen: list[int] = []

    def infer(batch: np.ndarray) -> np.ndarray:
        seen.append(len(batch))
        return batch.sum(axis=1)

    results = batch_sweep(infer, lambda size: [np.ones((size, 4)), np.ones((max(size - 1, 1), 4))], [1, 4],
                          lines_per_point=10, warmup=2)
    assert set(results) == {1, 4}
    assert results[1]["lines"] >= 10 and results[4]["lines"] >= 10 and results[4]["batches"] >= 3
    assert results[4]["lines_per_s"] > 0 and results[4]["p99_ms"] >= results[4]["p50_ms"]
    assert len(seen) == 2 + results[1]["batches"] + 2 + results[4]["batches"]  # warm-up batches untimed


def test_closed_loop_counts_requests_and_errors():
    def call(i: int) -> None:
        if i % 4 == 3:
            raise RuntimeError("busy")

    result = closed_loop(call, concurrency=3, requests_per_client=8, warmup=0)
    assert result["requests"] == 24 and result["errors"] == 6 and result["ok"] == 18
    assert result["error_rate"] == 0.25 and result["requests_per_s"] > 0


def test_machine_info_names_the_libraries():
    info = machine_info()
    assert info["cpu_count"] >= 1 and info["libraries"]["onnxruntime"]
    assert "CPUExecutionProvider" in info["onnxruntime_providers"]


def test_interleaved_runs_engines_in_turns_and_keeps_the_median():
    order: list[str] = []

    def sweep(name: str, values: list[float]):
        def run(r: int) -> dict[int, dict]:
            order.append(name)
            return {8: {"lines_per_s": values[r], "p99_ms": 10 * values[r]}}
        return run

    merged = interleaved({"a": sweep("a", [1, 9, 3]), "b": sweep("b", [5, 5, 6])}, rounds=3)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert merged["a"][8] == {"lines_per_s": 3.0, "p99_ms": 30.0, "rounds": 3}
    assert merged["b"][8]["lines_per_s"] == 5.0
