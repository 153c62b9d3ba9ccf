"""dvc stage `train`: fine-tune the base model on the accepted rows, tracked in MLflow."""

from __future__ import annotations

import sys
from pathlib import Path

from ocrops.config import load_params
from ocrops.errors import OcropsError
from ocrops.stages.train import run_train


def main() -> int:
    try:
        summary = run_train(load_params("params.yaml"), accepted=Path("outputs/validate/accepted.jsonl"),
                            general_dir=Path("outputs/general"), out=Path("outputs/train"), reports=Path("reports"))
    except OcropsError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 1
    if summary:
        print(f"train: best val CER {summary['val_cer']:.4f} at epoch {summary['best_epoch']}, "
              f"{summary['train_lines_per_s']:.1f} lines/s, MLflow run {summary['mlflow_run_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
