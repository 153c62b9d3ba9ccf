"""ONNX export of a trained model, offline ONNX Runtime graph optimisation and int8 dynamic quantisation."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from ocrops.errors import ErrorCode, OcropsError
from ocrops.models.base import OCRModel

# Files a served engine needs besides the graph (the family's vocabulary and preprocessing).
SIDECARS = ("family.txt", "charset.txt", "config.json", "preprocess.json")


def export_onnx(model: OCRModel, model_dir: Path, out_dir: Path, opset: int = 17) -> Path:
    """``out_dir/model.onnx`` plus the model's sidecar files; a family that cannot export says so."""
    if type(model).export_onnx is OCRModel.export_onnx:
        hint = (" (its decoder step with KV cache and its vision encoder export with ocrops.export.glm_ocr;"
                " the export stage does not run them yet)" if model.family == "glm-ocr" else "")
        raise OcropsError(ErrorCode.MODEL_NOT_READY,
                          f"family {model.family} has no whole-model ONNX export{hint}; run the pipeline up to "
                          "`dvc repro register` and serve it with torch")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = model.export_onnx(out_dir / "model.onnx", opset=opset)
    for name in SIDECARS:
        if (model_dir / name).exists():
            shutil.copy2(model_dir / name, out_dir / name)
    return path


def optimize(src: Path, dst: Path, level: str = "extended") -> Path:
    """Run ONNX Runtime's graph optimiser once and save the result, so sessions start fast.

    "extended" fusions are portable across CPUs; "all" adds layout changes tied to this machine's CPU.
    """
    import onnxruntime as ort

    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[level]
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
    return dst


def quantize_int8(src: Path, dst: Path, op_types: list[str] | None = None, per_channel: bool = True) -> Path:
    """Dynamic int8 quantisation of the weights (activations quantised at run time; no calibration data).

    ``op_types`` limits what is quantised (e.g. ["MatMul"]); None lets ONNX Runtime choose.
    """
    from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic

    prepared = dst.with_name(dst.stem + ".prep.onnx")
    quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
    try:
        quantize_dynamic(str(prepared), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=op_types,
                         per_channel=per_channel)
    finally:
        prepared.unlink(missing_ok=True)
    return dst


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
