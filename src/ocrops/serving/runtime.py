"""The packaged model at serving time: engine chosen by what the machine has, warm-up, out-of-memory
splitting, and the layout of a packaged model directory (what the package stage writes)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ocrops.errors import ErrorCode, OcropsError
from ocrops.models.base import Prediction
from ocrops.postprocess import Postprocessor
from ocrops.serving.faults import wrap_engine

log = logging.getLogger(__name__)

# A packaged model directory (a BentoML model's path):
MODEL_DIR = "model"  # the recognizer as saved by the family (weights, charset, preprocessing)
ENGINES_DIR = "engines"  # the export stage's files (ONNX fp32 / int8, TensorRT) + export.json
POSTPROCESS_FILE = "postprocess.json"
PACKAGE_FILE = "package.json"  # where it came from: MLflow name, version, alias, run, figures

ENGINE_ORDER = ("tensorrt", "ort_cuda", "ort_cpu", "torch")


@dataclass
class EngineChoice:
    name: str
    engine: object
    skipped: dict[str, str] = field(default_factory=dict)


def _ort_file(engines: Path, key: str) -> Path | None:
    manifest = json.loads((engines / "export.json").read_text(encoding="utf-8"))
    name = manifest.get("files", {}).get(key)
    return engines / name if name and (engines / name).exists() else None


def choose_engine(root: Path, preference: str = "auto", tensorrt_cache: Path | None = None,
                  threads: int | None = None) -> EngineChoice:
    """TensorRT, then ONNX Runtime CUDA, then ONNX Runtime CPU, then torch; ``preference`` names one."""
    import onnxruntime as ort

    from ocrops.serving.engines import OrtEngine, TorchEngine

    engines = root / ENGINES_DIR
    wanted = ENGINE_ORDER if preference == "auto" else (preference,)
    skipped: dict[str, str] = {}
    for name in wanted:
        if name == "tensorrt":
            from ocrops.export.tensorrt import TensorRTEngine, availability, build_engine

            ok, detail = availability()
            onnx = _ort_file(engines, "onnx_fp32")
            if not ok or onnx is None:
                skipped[name] = detail if not ok else "no ONNX model packaged"
                continue
            # an engine only runs on the GPU and TensorRT version it was built for: build (or reuse the
            # cached build keyed by ONNX digest + GPU + TensorRT version) on the serving machine
            plan, _ = build_engine(onnx, tensorrt_cache or Path(".cache/tensorrt"))
            return EngineChoice(name, TensorRTEngine(plan), skipped)
        if name in ("ort_cuda", "ort_cpu", "ort_int8"):
            cuda = name == "ort_cuda"
            if cuda and "CUDAExecutionProvider" not in ort.get_available_providers():
                skipped[name] = "onnxruntime has no CUDAExecutionProvider here (pip install '.[gpu]')"
                continue
            path = _ort_file(engines, "ort_int8" if name == "ort_int8" else "ort_fp32")
            if path is None:
                skipped[name] = "no ONNX Runtime model packaged"
                continue
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
            # a service shares the CPU with its API workers: threads waiting for the next batch must not spin
            engine = OrtEngine(path, name=name, threads=threads, providers=providers, spinning=False)
            return EngineChoice(name, engine, skipped)
        if name == "torch":
            from ocrops.models.base import load_model

            return EngineChoice(name, TorchEngine(load_model(root / MODEL_DIR).module, threads=threads), skipped)
    raise OcropsError(ErrorCode.MODEL_NOT_READY, f"no inference engine could be loaded: {skipped}")


def is_out_of_memory(exc: BaseException) -> bool:
    """Host MemoryError, torch's CUDA OOM, ONNX Runtime / TensorRT allocation failures."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return "out of memory" in text or "failed to allocate memory" in text


def split_on_oom(infer: Callable[[list], list], items: list) -> list:
    """Run ``infer`` on ``items``; when it runs out of memory, halve the batch and retry; a single item that
    still does not fit is a 5003."""
    try:
        return infer(items)
    except OcropsError:
        raise
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        if len(items) == 1:
            raise OcropsError(ErrorCode.OUT_OF_MEMORY, "out of memory on a single image") from exc
        log.warning("out of memory on a batch of %d; splitting it", len(items))
        half = len(items) // 2
        return split_on_oom(infer, items[:half]) + split_on_oom(infer, items[half:])


class PackagedModel:
    """A packaged model directory: recognizer on the chosen engine, post-processing and provenance."""

    def __init__(self, root: str | Path, engine: str = "auto", max_new_tokens: int = 128,
                 token_budget: int = 8192, threads: int | None = None) -> None:
        self.root = Path(root)
        self.info: dict = json.loads((self.root / PACKAGE_FILE).read_text(encoding="utf-8"))
        self.postprocessor = Postprocessor.load(self.root / POSTPROCESS_FILE)
        self.family: str = self.info.get("family", "ppocr")
        self.skipped: dict[str, str] = {}
        if self.family == "glm-ocr":
            from ocrops.models.base import load_model
            from ocrops.serving.glm_ocr import GlmOcrServingReader

            self.engine_name = "torch"
            self.reader = GlmOcrServingReader(load_model(self.root / MODEL_DIR), max_new_tokens, token_budget)
        else:
            from ocrops.serving.engines import LineReader

            choice = choose_engine(self.root, engine, threads=threads)
            self.engine_name, self.skipped = choice.name, choice.skipped
            self.reader = LineReader.from_model_dir(wrap_engine(choice.engine), self.root / ENGINES_DIR)

    @property
    def version(self) -> dict:
        m = self.info.get("mlflow", {})
        return {"name": m.get("name"), "version": m.get("version"), "alias": m.get("alias"),
                "engine": self.engine_name, "family": self.family}

    def read(self, images: Sequence[Image.Image], batch_size: int = 32) -> list[Prediction]:
        try:
            return split_on_oom(lambda chunk: self.reader.predict(chunk, batch_size=batch_size), list(images))
        except OcropsError:
            raise
        except Exception as exc:
            log.exception("inference failed")
            raise OcropsError(ErrorCode.MODEL_NOT_READY, f"inference failed: {type(exc).__name__}") from exc

    def warm_up(self, batches: int, batch_size: int) -> None:
        """Run a few batches of blank lines, so the first real request does not pay for lazy init."""
        for _ in range(batches):
            self.read([Image.new("RGB", (320, 48), "white")] * batch_size, batch_size=batch_size)
