"""dvc stage `evaluate`: base vs adapted model on the held-out test split and on general lines."""

from __future__ import annotations

import sys
from pathlib import Path

from ocrops.config import load_params
from ocrops.errors import OcropsError
from ocrops.stages.evaluate import run_evaluate
from ocrops.tracking import log_to_active_run


def main() -> int:
    try:
        report = run_evaluate(load_params("params.yaml"), accepted=Path("outputs/validate/accepted.jsonl"),
                              general_dir=Path("outputs/general"), model_dir=Path("outputs/train/model"),
                              reports=Path("reports"))
        log_to_active_run(report, prefix="evaluate")  # under `mlflow run -e evaluate` only
    except OcropsError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    test, general = report["test"], report["general"]
    print(f"evaluate: test CER {test['base']['cer']:.4f} -> {test['adapted']['cer']:.4f} "
          f"({test['cer_relative_reduction']:.0%} lower; post-processed {test['adapted_postprocessed']['cer']:.4f}); "
          f"general CER change {general['cer_change_points']:+.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
