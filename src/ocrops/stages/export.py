"""The ``export`` stage: ONNX export of the registered candidate, ONNX Runtime optimisation, int8, TensorRT
where the machine has it, and parity of every engine with the trained model on the test split."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ocrops.config import Params
from ocrops.data.lines import LineDataset
from ocrops.export.onnx import export_onnx, file_sha256, optimize, quantize_int8
from ocrops.export.parity import Parity, check, compare
from ocrops.models.base import load_model
from ocrops.serving.engines import LineReader, OrtEngine

FP32, INT8, TENSORRT = "model.onnx", "model.int8.onnx", "model.fp16.engine"
OPTIMIZED = "model.opt.onnx"


def run_export(params: Params, model_dir: Path, accepted: Path, registered: Path, out: Path,
               report_path: Path) -> dict:
    e = params.export
    shutil.rmtree(out, ignore_errors=True)
    model = load_model(model_dir)
    if model.family == "glm-ocr":
        return run_export_glm_ocr(params, model, model_dir, accepted, registered, out, report_path)
    started = time.perf_counter()
    onnx = export_onnx(model, model_dir, out, opset=e.opset)
    optimized = optimize(onnx, out / OPTIMIZED, e.optimization)
    files = {"onnx_fp32": FP32, "ort_fp32": OPTIMIZED}
    if e.int8:
        quantize_int8(onnx, out / INT8, e.int8_op_types, e.int8_per_channel)
        files["ort_int8"] = INT8
    export_s = time.perf_counter() - started

    test = LineDataset.from_accepted(accepted, "test")
    images, texts, paths = [test.image(i) for i in range(len(test))], test.texts(), [line.path for line in test]
    reference = model.predict(images, batch_size=e.batch_size)
    parity: dict[str, Parity] = {}
    for name in ("ort_fp32", "ort_int8"):
        if name in files:
            reader = LineReader.from_model_dir(OrtEngine(out / files[name], name=name), out)
            parity[name] = compare(name, reference, reader.predict(images, e.batch_size), texts, paths)

    tensorrt = build_tensorrt(params, optimized, out)
    if tensorrt.get("status") == "built":
        from ocrops.export.tensorrt import TensorRTEngine

        reader = LineReader.from_model_dir(TensorRTEngine(out / TENSORRT), out)
        parity["tensorrt_fp16"] = compare("tensorrt_fp16", reference, reader.predict(images, e.batch_size),
                                          texts, paths)
        files["tensorrt_fp16"] = TENSORRT

    version = json.loads(registered.read_text(encoding="utf-8")) if registered.exists() else {}
    manifest = {
        "family": model.family, "registered_model": version.get("name"), "version": version.get("version"),
        "files": files, "sha256": {k: file_sha256(out / v) for k, v in files.items()},
        "input": {"name": "x", "shape": ["batch", 3, 48, "width"]}, "output": {"name": "probs",
                                                                            "shape": ["batch", "steps", "classes"]},
    }
    (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    report = {
        "family": model.family,
        "export_seconds": export_s,
        "size_mb": {k: (out / v).stat().st_size / 1e6 for k, v in files.items()},
        "parity": {k: p.to_dict() for k, p in parity.items()},
        "tensorrt": tensorrt,
    }
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    check(parity["ort_fp32"], e.min_identical, e.max_cer_diff_points)
    if "tensorrt_fp16" in parity:  # FP16 rounding may flip a near tie; the same bounds still apply
        check(parity["tensorrt_fp16"], e.min_identical, e.max_cer_diff_points)
    return report


def build_tensorrt(params: Params, onnx: Path, out: Path) -> dict:
    """Build the FP16 engine where CUDA and tensorrt exist; elsewhere record why it was skipped."""
    from ocrops.export.tensorrt import Profile, availability, build_engine

    t = params.export.tensorrt
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


def run_export_glm_ocr(params: Params, model, model_dir: Path, accepted: Path, registered: Path, out: Path,
                       report_path: Path) -> dict:
    """glm-ocr: the vision graph (at the grid of ``export.glm_ocr_size``) and the KV-cache decoder step,
    checked against the torch model reading the same resized lines."""
    from ocrops.export.glm_ocr import GlmOcrOnnxReader, canonical, export_glm_ocr

    e, size = params.export, tuple(params.export.glm_ocr_size)
    test = LineDataset.from_accepted(accepted, "test")
    images, texts, paths = [test.image(i) for i in range(len(test))], test.texts(), [line.path for line in test]
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    files = export_glm_ocr(model, out, size, images[0])
    shutil.copytree(model_dir, out / "model")  # processor, tokenizer and config the reader needs
    export_s = time.perf_counter() - started
    reference = model.predict([canonical(im, size) for im in images], batch_size=1)
    reader = GlmOcrOnnxReader(model, out / files["ort_vision"], out / files["ort_decoder"], size)
    parity = {"ort_fp32": compare("ort_fp32", reference, reader.predict(images), texts, paths)}
    version = json.loads(registered.read_text(encoding="utf-8")) if registered.exists() else {}
    manifest = {"family": model.family, "registered_model": version.get("name"), "version": version.get("version"),
                "files": files | {"model": "model"}, "image_size": list(size),
                "sha256": {k: file_sha256(out / v) for k, v in files.items()}}
    (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    report = {
        "family": model.family, "export_seconds": export_s,
        "size_mb": {k: (out / v).stat().st_size / 1e6 for k, v in files.items()},
        "parity": {k: p.to_dict() for k, p in parity.items()},
        "int8": {"status": "skipped", "reason": "int8 export covers the ppocr recognizer only"},
        "tensorrt": {"status": "skipped", "reason": "TensorRT engines are built for the ppocr recognizer only"},
    }
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    check(parity["ort_fp32"], e.min_identical, e.max_cer_diff_points)
    return report
