"""The packaged model MLflow stores: a pyfunc ("models from code") reading images with the family's model, the
page reader and the post-processing chain, with the inference packages its family needs pinned."""

from __future__ import annotations

import base64
import json
import tempfile
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd

from ocrops.config import ServeParams
from ocrops.errors import ErrorCode, OcropsError
from ocrops.families import Family
from ocrops.postprocess import Postprocessor

# What every packaged model needs at inference time, page detection included (training-only packages are left
# out; opencv under whichever distribution name is installed); each family's record adds its own
# (ocrops.families.Family.runtime_packages).
RUNTIME_PACKAGES = ("mlflow", "torch", "numpy", "pandas", "pillow", "safetensors", "pydantic", "pyyaml", "rapidfuzz",
                    "rapidocr-onnxruntime", "onnxruntime", "opencv-python-headless", "opencv-python", "pyclipper")


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


# the page reader's settings as the service has them by default (serve.crop_margin, unclip_ratio, merge_gap)
_SERVE = ServeParams()
PAGE_DEFAULTS = {"crop_margin": _SERVE.crop_margin, "unclip_ratio": _SERVE.unclip_ratio,
                 "merge_gap": _SERVE.merge_gap}
OUTPUT_COLUMNS = ("text", "raw_text", "confidence", "mode", "lines", "error_code", "error", "width", "height",
                  "rotation")


class OcropsPyfunc(mlflow.pyfunc.PythonModel):
    """Images in (column ``image``: base64 or bytes), text out: the family's model + post-processing.

    Params: ``mode`` ``line`` (default: each image is one text line), ``page`` (detect lines, read each) or
    ``auto`` (as the service: line-shaped images are lines); ``errors`` ``raise`` (default: a bad image fails the
    call) or ``record`` (its row carries the error code, the others are read: what batch jobs use)."""

    def load_context(self, context) -> None:
        from ocrops.models import load_model

        self.model = load_model(context.artifacts["ocr_model"])
        self.chain = Postprocessor.load(context.artifacts["postprocess"])
        self.detector_model = context.artifacts.get("detector")
        self._readers: dict[tuple, object] = {}

    def _reader(self, params: dict):
        from ocrops.inference.pages import page_reader

        key = tuple(float(params.get(k, v)) for k, v in PAGE_DEFAULTS.items())
        if key not in self._readers:  # the detector session is loaded once per setting
            settings = SimpleNamespace(**dict(zip(PAGE_DEFAULTS, key, strict=True)))
            self._readers[key] = page_reader(settings, Path(self.detector_model) if self.detector_model else None)
        return self._readers[key]

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if "image" not in model_input:
            raise OcropsError(ErrorCode.INVALID_INPUT, "input needs a column 'image' (base64 PNG/JPEG)")
        params = params or {}
        mode, errors = str(params.get("mode", "line")), str(params.get("errors", "raise"))
        if mode not in ("line", "page", "auto") or errors not in ("raise", "record"):
            raise OcropsError(ErrorCode.INVALID_INPUT, f"mode must be line, page or auto (got {mode!r}); errors "
                                                       f"raise or record (got {errors!r})")
        batch_size = int(params.get("batch_size", 16))
        post = self.chain if bool(params.get("postprocess", True)) else None
        reader = self._reader(params)
        rows: list[dict | OcropsError] = []
        for value in model_input["image"]:
            try:
                rows.append({"image": _decode(value)})
            except OcropsError as exc:
                if errors == "raise":
                    raise
                rows.append(exc)
        readable = [k for k, row in enumerate(rows) if isinstance(row, dict)]

        def read(indices: list[int]) -> list[dict]:
            return reader.read([rows[k]["image"] for k in indices],
                               lambda crops: self.model.predict(crops, batch_size=batch_size), mode, post)

        try:
            results = dict(zip(readable, read(readable), strict=True))
        except OcropsError:
            if errors == "raise" or len(readable) == 1:
                raise
            results = {}  # one image spoilt the call (e.g. out of memory): read them one by one
            for k in readable:
                try:
                    results[k] = read([k])[0]
                except OcropsError as exc:
                    rows[k] = exc
        return pd.DataFrame([_row(results.get(k), row) for k, row in enumerate(rows)], columns=OUTPUT_COLUMNS)


def _row(result: dict | None, row: dict | OcropsError) -> dict:
    """One output row: the reader's answer (text, lines with boxes as JSON) or the image's error."""
    if isinstance(row, OcropsError) or result is None:
        error = row if isinstance(row, OcropsError) else OcropsError(ErrorCode.UNAVAILABLE, "not read")
        return {"text": "", "raw_text": "", "confidence": 0.0, "mode": "", "lines": "[]",
                "error_code": int(error.code), "error": error.message, "width": 0, "height": 0, "rotation": 0}
    # boxes to 0.1 px as plain floats (the detector's float32 corners would otherwise show as 433.70001220703125)
    lines = [line | {"box": [[round(float(v), 1) for v in point] for point in line["box"]]}
             for line in result["lines"]]
    confidence = float(sum(line["confidence"] for line in lines) / len(lines)) if lines else 0.0
    return {"text": result["text"], "raw_text": "\n".join(line["raw_text"] for line in lines),
            "confidence": confidence, "mode": result["mode"], "lines": json.dumps(lines, ensure_ascii=False),
            "error_code": 0, "error": "", "width": int(result["width"]), "height": int(result["height"]),
            "rotation": int(result.get("rotation", 0))}


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    outputs = [ColSpec("string", "text"), ColSpec("string", "raw_text"), ColSpec("double", "confidence"),
               ColSpec("string", "mode"), ColSpec("string", "lines"), ColSpec("long", "error_code"),
               ColSpec("string", "error"), ColSpec("long", "width"), ColSpec("long", "height"),
               ColSpec("long", "rotation")]
    page = [ParamSpec(k, "double", v) for k, v in PAGE_DEFAULTS.items()]
    return ModelSignature(
        inputs=Schema([ColSpec("string", "image")]),
        outputs=Schema(outputs),
        params=ParamSchema([ParamSpec("postprocess", "boolean", True), ParamSpec("batch_size", "long", 16),
                            ParamSpec("mode", "string", "line"), ParamSpec("errors", "string", "raise"), *page]),
    )


def image_b64(path: str | Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def log_pyfunc(model_dir: Path, chain: Postprocessor, example_image: str | Path, family: Family):
    """Log the packaged model to the active run; returns MLflow's ModelInfo (model_uri, model_id).

    The ocrops sources travel with it, and a plug-in family's package when it lives outside ocrops."""
    import shutil

    import ocrops

    package = Path(ocrops.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        post = chain.save(Path(tmp) / "postprocess")
        # the page reader's detector travels with the model, as in the Bento (no rapidocr needed to read pages)
        detector = Path(tmp) / "detector.onnx"
        shutil.copy2(family.code().detector(model_dir).locate(), detector)
        code = [str(package)]
        if package not in family.package_dir.parents:
            code.append(str(family.package_dir))
        code += [_module_file(spec) for spec in chain.settings.rules if _module_file(spec)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas/pydantic notes while inferring the example
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(__file__).parent / "pyfunc_entry.py"),
                artifacts={"ocr_model": str(model_dir), "postprocess": str(post), "detector": str(detector)},
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
