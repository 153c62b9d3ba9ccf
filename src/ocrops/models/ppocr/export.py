"""The ppocr exporter: the whole recognizer to ONNX (dynamic batch and width), the graph optimised offline for
ONNX Runtime, an int8 copy, and a TensorRT FP16 engine where CUDA and tensorrt exist."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from ocrops.config import ExportParams
from ocrops.export.onnx import optimize, quantize_int8
from ocrops.inference.engines import OrtEngine
from ocrops.inference.lines import LineReader
from ocrops.inference.types import Reader
from ocrops.models.interface import Exported
from ocrops.models.ppocr.codec import CTCCodec
from ocrops.models.ppocr.model import PPOCRModel
from ocrops.models.ppocr.preprocess import INT8_MAX_BATCH

FP32, OPTIMIZED, INT8, TENSORRT = "model.onnx", "model.opt.onnx", "model.int8.onnx", "model.fp16.engine"


class _WithSoftmax(torch.nn.Module):
    """Export wrapper: probabilities, as the released ONNX model outputs them."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).softmax(-1)


def export_onnx(model: PPOCRModel, path: Path, opset: int = 17) -> Path:
    """The whole recognizer, images (N, 3, 48, W) -> class probabilities, dynamic batch and width; a network
    trained with re-parameterisable branches (PP-OCRv6) is exported folded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    network = model.network.fused()
    # the exporter restores the wrapper's train/eval flag on every submodule afterwards: keep it eval
    wrapper = _WithSoftmax(network).eval()
    example = torch.zeros(1, 3, model.network.config.image_height, 320)
    with torch.no_grad():
        torch.onnx.export(
            wrapper, (example,), str(path), input_names=["x"], output_names=["probs"],
            dynamic_axes={"x": {0: "batch", 3: "width"}, "probs": {0: "batch", 1: "steps"}},
            opset_version=opset, dynamo=False,
        )
    return path


def build_tensorrt(onnx: Path, out: Path, params: ExportParams) -> dict:
    """The FP16 engine where CUDA and tensorrt exist; elsewhere why it was skipped."""
    from ocrops.inference.tensorrt import Profile, availability, build_engine

    t = params.tensorrt
    if not t.enabled:
        return {"status": "skipped", "reason": "disabled in params (export.tensorrt.enabled: false)"}
    ok, detail = availability()
    if not ok:
        return {"status": "skipped", "reason": detail}
    profile = Profile(t.min_batch, t.opt_batch, t.max_batch, t.min_width, t.opt_width, t.max_width)
    started = time.perf_counter()
    engine, built = build_engine(onnx, Path(t.cache_dir), fp16=t.fp16, profile=profile, workspace_gb=t.workspace_gb)
    shutil.copy2(engine, out / TENSORRT)
    return {"status": "built", "gpu": detail, "from_cache": not built, "seconds": time.perf_counter() - started}


def export(model: PPOCRModel, out: Path, images: Sequence[Image.Image], params: ExportParams) -> Exported:
    out.mkdir(parents=True, exist_ok=True)
    onnx = export_onnx(model, out / FP32, opset=params.opset)
    optimize(onnx, out / OPTIMIZED, params.optimization)
    files = {"onnx_fp32": FP32, "ort_fp32": OPTIMIZED}
    skipped: dict[str, str] = {}
    if params.int8:
        quantize_int8(onnx, out / INT8, params.int8_op_types, params.int8_per_channel)
        files["ort_int8"] = INT8
    else:
        skipped["ort_int8"] = "disabled in params (export.int8: false)"
    codec = CTCCodec(model.charset)
    readers: dict[str, Reader] = {name: LineReader(OrtEngine(out / files[name], name=name,
                                                             max_batch=INT8_MAX_BATCH if name == "ort_int8" else None),
                                                   codec, model.preprocess)
                                  for name in ("ort_fp32", "ort_int8") if name in files}
    tensorrt = build_tensorrt(out / OPTIMIZED, out, params)
    if tensorrt["status"] == "built":
        from ocrops.inference.tensorrt import TensorRTEngine

        files["tensorrt_fp16"] = TENSORRT
        readers["tensorrt_fp16"] = LineReader(TensorRTEngine(out / TENSORRT), codec, model.preprocess)
    else:
        skipped["tensorrt_fp16"] = tensorrt["reason"]
    manifest = {"input": {"name": "x", "shape": ["batch", 3, 48, "width"]},
                "output": {"name": "probs", "shape": ["batch", "steps", "classes"]}, "tensorrt": tensorrt}
    return Exported(files=files, readers=readers, manifest=manifest, skipped=skipped, lossy=("ort_int8",))
