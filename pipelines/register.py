"""dvc stage `register`: a new MLflow registry version of the evaluated model, alias `candidate`."""

from __future__ import annotations

import sys
from pathlib import Path

from ocrops.config import load_params
from ocrops.errors import OcropsError, PipelineError
from ocrops.stages.register import run_register


def main() -> int:
    try:
        report = run_register(load_params("params.yaml"), model_dir=Path("outputs/train/model"),
                              accepted=Path("outputs/validate/accepted.jsonl"),
                              evaluation_path=Path("reports/evaluate.json"), train_report=Path("reports/train.json"),
                              out=Path("outputs/register/version.json"), report_path=Path("reports/register.json"))
    except (OcropsError, PipelineError) as exc:
        print(f"register: {exc}", file=sys.stderr)
        return 1
    print(f"register: {report['name']} version {report['version']} is '{report['alias']}' "
          f"({report['model_uri']}); reloaded test CER {report['reloaded_test_cer']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
