"""A bento built for the service tests without training: the default base model (PP-OCRv4 from the
rapidocr wheel) exported by its family, imported into a temporary BentoML home and built with bentos/bentofile.yaml.

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
    from ocrops.data.split import content_hash
    from ocrops.family import DEFAULT_BASE, for_base
    from ocrops.models import pretrained
    from ocrops.postprocess import Postprocessor
    from ocrops.stages.package import build_wheel, import_model

    params = load_params(PROJECT / "params.yaml")
    model = pretrained(DEFAULT_BASE)
    model_dir = model.save(root / "mlflow" / "model")
    Postprocessor(params.postprocess, ["Hemoglobin", "Creatinine"]).save(root / "mlflow")
    engines = root / "engines"
    exported = for_base(DEFAULT_BASE).code().export(model, model_dir, engines, [],
                                                     params.export.model_copy(update={"int8": False}))
    files = exported.files
    manifest = {"family": model.family, "registered_model": "ocrops", "version": 1, "files": files,
                "sha256": {k: content_hash(engines / v) for k, v in files.items()}}
    (engines / "export.json").write_text(json.dumps(manifest))
    tags = {"family": model.family, "test_cer": "0.0", "train_run_id": "tests"}
    import_model(params, "champion", "1", model_dir, engines, {"source": "tests"}, tags)

    context = root / "context"
    (context / "bentos").mkdir(parents=True)
    for name in ("bentos/service.py", "bentos/bentofile.yaml", "bentos/Dockerfile.template", "bentos/README.md",
                 "params.yaml", "requirements-serve.lock"):
        shutil.copy2(PROJECT / name, context / name)
    build_wheel(context / "outputs" / "package" / "wheels")
    os.chdir(context)  # bentoml resolves the wheel paths from the working directory
    bento = bentoml.bentos.build_bentofile(str(context / "bentos" / "bentofile.yaml"), build_ctx=str(context))
    return str(bento.tag)


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
