"""The packaged model MLflow stores: a pyfunc ("models from code") reading line images with the family's model
and the post-processing chain, with the inference packages its family needs pinned."""

from __future__ import annotations

import base64
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
import pandas as pd

from ocrops.errors import ErrorCode, OcropsError
from ocrops.family import Family
from ocrops.postprocess import Postprocessor

# What every packaged model needs at inference time, page detection included (training-only packages are left
# out); each family's record adds its own (ocrops.family.Family.runtime_packages).
RUNTIME_PACKAGES = ("mlflow", "torch", "numpy", "pandas", "pillow", "safetensors", "pydantic", "pyyaml", "rapidfuzz",
                    "rapidocr-onnxruntime", "onnxruntime", "opencv-python", "pyclipper")


def pip_requirements(family: Family) -> list[str]:
    """Pinned to the versions of this environment, so the served model behaves as the evaluated one."""
    pins = []
    for name in dict.fromkeys(RUNTIME_PACKAGES + family.runtime_packages):
        try:
            # a local label (torch's "+cpu") names one wheel index; the plain version resolves everywhere
            pins.append(f"{name}=={version(name).split('+')[0]}")
        except PackageNotFoundError:
            continue  # e.g. opencv installed under another distribution name
    return pins


def _decode(value) -> object:
    """A cell of the ``image`` column: base64 text (optionally a data URI) or raw bytes -> RGB image, with the
    service's checks and limits."""
    from ocrops.inference.inputs import PayloadLimits, decode_base64, open_image

    limits = PayloadLimits()
    if isinstance(value, str):
        value = decode_base64(value, limits)
    if not isinstance(value, bytes | bytearray):
        raise OcropsError(ErrorCode.INVALID_INPUT, f"image must be base64 text or bytes, not {type(value)}")
    return open_image(bytes(value), limits)


class OcropsPyfunc(mlflow.pyfunc.PythonModel):
    """Line images in (column ``image``: base64 or bytes), text out: the family's model + post-processing."""

    def load_context(self, context) -> None:
        from ocrops.models import load_model

        self.model = load_model(context.artifacts["ocr_model"])
        self.chain = Postprocessor.load(context.artifacts["postprocess"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if "image" not in model_input:
            raise OcropsError(ErrorCode.INVALID_INPUT, "input needs a column 'image' (base64 PNG/JPEG)")
        params = params or {}
        images = [_decode(v) for v in model_input["image"]]
        predictions = self.model.predict(images, batch_size=int(params.get("batch_size", 16)))
        post = bool(params.get("postprocess", True))
        return pd.DataFrame({
            "text": [self.chain(p.text, p.confidence) if post else p.text for p in predictions],
            "raw_text": [p.text for p in predictions],
            "confidence": [float(p.confidence) for p in predictions],
        })


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "image")]),
        outputs=Schema([ColSpec("string", "text"), ColSpec("string", "raw_text"), ColSpec("double", "confidence")]),
        params=ParamSchema([ParamSpec("postprocess", "boolean", True), ParamSpec("batch_size", "long", 16)]),
    )


def image_b64(path: str | Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def log_pyfunc(model_dir: Path, chain: Postprocessor, example_image: str | Path, family: Family):
    """Log the packaged model to the active run; returns MLflow's ModelInfo (model_uri, model_id).

    The ocrops sources travel with it, and a plug-in family's package when it lives outside ocrops."""
    import ocrops

    package = Path(ocrops.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        post = chain.save(Path(tmp) / "postprocess")
        code = [str(package)]
        if package not in family.package_dir.parents:
            code.append(str(family.package_dir))
        code += [_module_file(spec) for spec in chain.settings.rules if _module_file(spec)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas/pydantic notes while inferring the example
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(__file__).parent / "pyfunc_entry.py"),
                artifacts={"ocr_model": str(model_dir), "postprocess": str(post)},
                code_paths=code,
                pip_requirements=pip_requirements(family),
                signature=_signature(),
                input_example=pd.DataFrame({"image": [image_b64(example_image)]}),
            )
    return info


def _module_file(spec: str) -> str | None:
    """A user rule's module file, packaged with the model so the service can import it."""
    import importlib.util

    found = importlib.util.find_spec(spec.partition(":")[0])
    origin = found.origin if found else None
    return origin if origin and origin.endswith(".py") and "site-packages" not in origin else None
