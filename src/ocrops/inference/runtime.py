"""The packaged model at serving time: the layout of a packaged model directory (what the package stage
writes), the engine chosen by what the machine has, warm-up and out-of-memory splitting."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ocrops.errors import ErrorCode, OcropsError
from ocrops.families import get as get_family
from ocrops.inference.faults import wrap_reader
from ocrops.inference.types import EngineUnavailable, Prediction, Reader
from ocrops.postprocess import Postprocessor

log = logging.getLogger(__name__)

# A packaged model directory (a BentoML model's path):
MODEL_DIR = "model"  # the recognizer as saved by its family (weights, vocabulary, preprocessing)
ENGINES_DIR = "engines"  # the export stage's files + export.json
POSTPROCESS_FILE = "postprocess.json"
DETECTOR_FILE = "detector.onnx"  # the page reader's line detector (PP-OCRv4 DBNet), so a bento needs no rapidocr
PACKAGE_FILE = "package.json"  # where it came from: MLflow name, version, alias, run, figures, family
EXPORT_MANIFEST = "export.json"


@dataclass
class EngineChoice:
    name: str
    reader: Reader
    skipped: dict[str, str] = field(default_factory=dict)


def choose_reader(family_name: str, model_dir: Path, engines_dir: Path, preference: str = "auto",
                  threads: int | None = None) -> EngineChoice:
    """The family's engines in its order of preference (``auto``), or the one ``preference`` names; every
    engine passed over is recorded with the reason."""
    family = get_family(family_name).code()
    wanted = family.engines if preference == "auto" else (preference,)
    skipped: dict[str, str] = {}
    for name in wanted:
        try:
            reader = family.reader(model_dir, engines_dir, name, threads=threads)
        except EngineUnavailable as exc:
            skipped[name] = str(exc)
            continue
        except ModuleNotFoundError as exc:  # a slim serving install has no torch: the torch engine is not there
            skipped[name] = f"{exc.name} is not installed here"
            continue
        return EngineChoice(name, wrap_reader(reader), skipped)
    raise OcropsError(ErrorCode.UNAVAILABLE, f"no inference engine could be loaded: {skipped}")


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


def read_package(root: str | Path) -> tuple[dict, Postprocessor]:
    """A packaged model's provenance (``package.json``) and post-processing chain."""
    root = Path(root)
    return json.loads((root / PACKAGE_FILE).read_text(encoding="utf-8")), Postprocessor.load(root / POSTPROCESS_FILE)


class PackagedModel:
    """A packaged model directory: recognizer on the chosen engine, post-processing and provenance."""

    def __init__(self, root: str | Path, engine: str = "auto", threads: int | None = None) -> None:
        self.root = Path(root)
        self.info, self.postprocessor = read_package(self.root)
        self.family: str = self.info["family"]
        choice = choose_reader(self.family, self.root / MODEL_DIR, self.root / ENGINES_DIR, engine, threads)
        self.engine_name, self.reader, self.skipped = choice.name, choice.reader, choice.skipped

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
            raise OcropsError(ErrorCode.UNAVAILABLE, f"inference failed: {type(exc).__name__}") from exc

    def release_memory(self) -> None:
        """Give back what the engine keeps from its largest batch, where it can (ONNX Runtime)."""
        engine = getattr(self.reader, "engine", None)
        if hasattr(engine, "release_memory"):
            engine.release_memory()

    def warm_up(self, batches: int, batch_size: int) -> None:
        """Run a few batches of blank lines, so the first real request does not pay for lazy init."""
        for _ in range(batches):
            self.read([Image.new("RGB", (320, 48), "white")] * batch_size, batch_size=batch_size)
