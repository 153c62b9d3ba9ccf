"""dvc stage `benchmark`: throughput and latency per engine, batch sizes and concurrency; logged to MLflow."""

from __future__ import annotations

import sys
from pathlib import Path

from ocrops.config import load_params
from ocrops.errors import OcropsError
from ocrops.stages.benchmark import run_benchmark


def main() -> int:
    try:
        report = run_benchmark(load_params("params.yaml"), model_dir=Path("outputs/train/model"),
                               export_dir=Path("outputs/export"), accepted=Path("outputs/validate/accepted.jsonl"),
                               export_report=Path("reports/export.json"),
                               registered=Path("outputs/register/version.json"),
                               report_path=Path("reports/benchmark.json"), plots_dir=Path("reports/plots/benchmark"))
    except OcropsError as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    print("benchmark: " + ", ".join(f"{k} {v:.2f}x" for k, v in report["ratios"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
