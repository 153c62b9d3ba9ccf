"""A bento built for the service tests without training: the pretrained PP-OCRv4 recognizer (from the
rapidocr wheel) exported to ONNX, imported into a temporary BentoML home and built with bentos/bentofile.yaml.

Run as a script in a child process (``python tests/bento_fixture.py ROOT``) so that BENTOML_HOME is set
before bentoml is imported; prints the bento tag.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def build(root: Path) -> str:
    import bentoml

    from ocrops.config import load_params
    from ocrops.export.onnx import export_onnx, file_sha256, optimize
    from ocrops.models.base import pretrained
    from ocrops.postprocess import Postprocessor
    from ocrops.stages.package import build_wheel, import_model

    params = load_params(PROJECT / "params.yaml")
    model = pretrained("ppocr")
    model_dir = model.save(root / "mlflow" / "model")
    Postprocessor(params.postprocess, ["Hemoglobin", "Creatinine"]).save(root / "mlflow")
    engines = root / "engines"
    onnx = export_onnx(model, model_dir, engines, opset=params.export.opset)
    optimize(onnx, engines / "model.opt.onnx", params.export.optimization)
    files = {"onnx_fp32": onnx.name, "ort_fp32": "model.opt.onnx"}
    manifest = {"family": "ppocr", "registered_model": "ocrops", "version": 1, "files": files,
                "sha256": {k: file_sha256(engines / v) for k, v in files.items()}}
    (engines / "export.json").write_text(json.dumps(manifest))
    tags = {"family": "ppocr", "test_cer": "0.0", "train_run_id": "tests"}
    import_model(params, "champion", "1", model_dir, engines, {"source": "tests"}, tags)

    context = root / "context"
    (context / "bentos").mkdir(parents=True)
    for name in ("bentos/service.py", "bentos/bentofile.yaml", "bentos/README.md", "params.yaml"):
        shutil.copy2(PROJECT / name, context / name)
    build_wheel(context / "outputs" / "package" / "wheels")
    os.chdir(context)  # bentoml resolves the wheel paths from the working directory
    bento = bentoml.bentos.build_bentofile(str(context / "bentos" / "bentofile.yaml"), build_ctx=str(context))
    return str(bento.tag)


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
