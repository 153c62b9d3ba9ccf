"""dvc stage `export`: ONNX (optimised, int8) and TensorRT engines of the registered candidate, parity-checked."""

from __future__ import annotations

import sys
from pathlib import Path

from ocrops.config import load_params
from ocrops.errors import OcropsError, PipelineError
from ocrops.stages.export import run_export


def main() -> int:
    try:
        report = run_export(load_params("params.yaml"), model_dir=Path("outputs/train/model"),
                            accepted=Path("outputs/validate/accepted.jsonl"),
                            registered=Path("outputs/register/version.json"), out=Path("outputs/export"),
                            report_path=Path("reports/export.json"))
    except (OcropsError, PipelineError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    for name, p in report["parity"].items():
        print(f"export: {name}: {p['identical_share']:.2%} of {p['lines']} lines identical to the model, "
              f"CER {p['cer_engine']:.4f} ({p['cer_diff_points']:+.3f} points)")
    trt = report["tensorrt"]
    print(f"export: tensorrt {trt['status']}" + (f" ({trt['reason']})" if "reason" in trt else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
