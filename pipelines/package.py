"""dvc stage `package`: a Bento of the model MLflow serves (@champion, else @candidate)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from ocrops.config import load_params
from ocrops.errors import OcropsError, PipelineError
from ocrops.stages.package import run_package


def main() -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            manifest = run_package(load_params("params.yaml"), project=Path.cwd(), export_dir=Path("outputs/export"),
                                   accepted=Path("outputs/validate/accepted.jsonl"), out=Path("outputs/package"),
                                   report_path=Path("reports/package.json"))
        except (OcropsError, PipelineError) as exc:
            print(f"package: {exc}", file=sys.stderr)
            return 1
    for w in caught:
        if "alias" in str(w.message):
            print(f"package: warning: {w.message}", file=sys.stderr)
    m = manifest["mlflow"]
    print(f"package: built bento {manifest['bento']} from {m['name']} version {m['version']} (@{m['alias']}); "
          f"engines: {manifest['engines']['source']}")
    c = manifest["serve_check"]
    print(f"package: `bentoml serve` read {c['lines']} test lines through POST /ocr: CER {c['served_cer']:.4f} "
          f"(registered {c['registered_cer']})")
    print(f"package: serve it with `bentoml serve {manifest['bento']}`, "
          f"or `bentoml containerize {manifest['bento']}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
