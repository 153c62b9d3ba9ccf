"""dvc stage `validate`: dataset -> reports/validation.{json,html}, reports/quarantine.jsonl, accepted rows."""

from __future__ import annotations

import sys

from ocrops.config import load_params
from ocrops.errors import OcropsError, PipelineError
from ocrops.stages.validate import run_validate


def main() -> int:
    try:
        run_validate(load_params("params.yaml"))
    except (OcropsError, PipelineError) as exc:
        print(f"validate: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
