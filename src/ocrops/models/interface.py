"""The interface every model family implements (docs/architecture.md, "Adding a model family").

:class:`OCRModel` is a trainable line recognizer: images in, texts with confidences out. :class:`ModelFamily` is
a family's code; subclass it in the family's folder (``models/<family>/plugin.py``) and name the subclass in its
ocrops.families.Family record. Only ``pretrained``, ``load`` and the model class are required: a family without
an exporter is skipped by the export stage with the reason, and is served and benchmarked with its torch model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ocrops.families import FAMILY_FILE, saved_family
from ocrops.inference import preprocess
from ocrops.inference.types import EngineUnavailable, Prediction, Reader

if TYPE_CHECKING:  # the serving set has no torch: a family's record and reader load without it
    import torch
    from pydantic import BaseModel

    from ocrops.config import ExportParams
    from ocrops.families import Family
    from ocrops.inference.wheel_files import WheelFile


class OCRModel(ABC):
    """A trainable line recognizer: images in, texts with confidences out."""

    family: str
    #: set while a distributed wrapper (DDP) of :attr:`module` trains; ``loss`` runs through it
    train_wrapper: torch.nn.Module | None = None
    #: name of an ocrops.inference.preprocess entry applied to every image, saved with the model
    preprocess: str | None = None

    def prepare(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        """The images as the model sees them: RGB, through the model's preprocessing if it has one."""
        return preprocess.apply(images, self.preprocess)

    def save_preprocess(self, path: Path) -> None:
        preprocess.save(path, self.preprocess)

    def load_preprocess(self, path: Path) -> None:
        self.preprocess = preprocess.load(path)

    def mark_family(self, path: Path) -> None:
        """Name the family in a saved model directory (how ocrops.models.load_model finds its loader)."""
        (path / FAMILY_FILE).write_text(self.family + "\n", encoding="utf-8")

    @property
    def forward_module(self) -> torch.nn.Module:
        """The module ``loss`` calls: the distributed wrapper while there is one, else :attr:`module`."""
        return self.train_wrapper if self.train_wrapper is not None else self.module

    @property
    @abstractmethod
    def module(self) -> torch.nn.Module:
        """The torch module holding the trainable weights."""

    @abstractmethod
    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]:
        """Batched recognition; images are RGB line crops."""

    @abstractmethod
    def loss(self, images: Sequence[Image.Image], texts: Sequence[str]) -> torch.Tensor:
        """Training loss on one batch (the module must be in train mode)."""

    def posteriors(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Per-step class logits (N, T, C) for distillation; families without CTC posteriors say so."""
        from ocrops.errors import ErrorCode, OcropsError

        raise OcropsError(ErrorCode.INVALID_INPUT, f"train.distill needs a CTC family; {self.family} has no "
                                                   "per-step posteriors to distil (its LoRA keeps the base weights)")

    def unknown_characters(self, texts: Sequence[str]) -> set[str]:
        """Characters the model cannot emit; empty where any text is representable."""
        return set()

    def extend_vocabulary(self, chars: Sequence[str]) -> list[str]:
        """Add output classes for ``chars``; returns those added."""
        return []

    def train_mode(self) -> None:
        self.module.train()

    def eval_mode(self) -> None:
        self.module.eval()

    @abstractmethod
    def save(self, path: str | Path) -> Path:
        """Write everything needed to rebuild the model into a directory (``mark_family`` included)."""

    def restore(self, path: str | Path) -> None:
        """Load the trainable state saved by :meth:`save` into this (already prepared) model."""
        self.module.load_state_dict(saved_family(path).code().load(Path(path)).module.state_dict())


class NotExportable(Exception):
    """The family (or this model) has no exported engine; the message says why (the export stage records it)."""


@dataclass
class Exported:
    """What a family's exporter wrote into the export folder, and readers over it for the parity check."""

    files: dict[str, str]  # what -> file name in the export folder (``ort_fp32`` -> model.opt.onnx, ...)
    readers: dict[str, Reader]  # engine name -> a reader over the exported engine
    reference: list[Prediction] | None = None  # the trained model's readings to compare with (default: predict)
    manifest: dict[str, Any] = field(default_factory=dict)  # extra fields for export.json (shapes, image size)
    skipped: dict[str, str] = field(default_factory=dict)  # engine -> why it was not built here
    lossy: tuple[str, ...] = ()  # engines that trade accuracy for speed (int8): parity reported, not enforced


@dataclass
class BenchTarget:
    """One engine under the benchmark harness: ``infer`` one prepared batch."""

    infer: Callable[[Any], object]
    batches: Callable[[int], list]  # prepared batches of a given size
    singles: list  # one-line inputs for the closed-loop runs


@dataclass
class Bench:
    targets: dict[str, BenchTarget]
    batch_sizes: list[int]
    headline: int  # the batch size the ratios and registry tags quote


class ModelFamily(ABC):
    """A family's code: models, export, inference readers. One instance per registered family."""

    #: serving engines in order of preference (``serve.engine: auto`` takes the first that loads)
    engines: tuple[str, ...] = ("torch",)
    #: the lock a Bento of this family installs: the workflow's (torch included) unless the family serves from
    #: exported engines alone, then the serving set (requirements-serve.lock)
    serving_requirements: str = "requirements.lock"

    def __init__(self, record: Family) -> None:
        self.record = record

    @property
    def name(self) -> str:
        return self.record.name

    # -- models --------------------------------------------------------------------------------------

    @abstractmethod
    def pretrained(self, base: str, settings: BaseModel | None = None) -> OCRModel:
        """The released model a preset or PREFIX:LOCATION base names (never downloaded at run time)."""

    @abstractmethod
    def load(self, path: Path) -> OCRModel:
        """A model saved by its ``save``."""

    def vocabulary(self, base: str | Path | None = None) -> frozenset[str] | None:
        """Characters the base (a preset, or a saved model's folder) can emit; None where any text is
        representable."""
        return None

    def port_parity(self, base: str, images: Sequence[Image.Image]) -> dict | None:
        """A ported preset against its released graph on ``images``: {"lines", "identical_share",
        "max_prob_diff"}; None where the family has no released graph to compare with."""
        return None

    def detector(self, model_dir: Path) -> WheelFile:
        """The line detector a saved model's pages are read with (packaged beside it): PP-OCRv4's DBNet unless
        the family pairs its models with another."""
        from ocrops.inference.rapidocr import V4_DETECTOR

        return V4_DETECTOR

    # -- export ---------------------------------------------------------------------------------------

    def export(self, model: OCRModel, model_dir: Path, out: Path, images: Sequence[Image.Image],
               params: ExportParams, settings: BaseModel | None = None) -> Exported:
        """Write the family's inference graphs into ``out``; ``images`` are test lines (example inputs)."""
        raise NotExportable(f"the {self.name} family has no ONNX export; it is served with its torch model")

    # -- inference ------------------------------------------------------------------------------------

    def reader(self, model_dir: Path, engines_dir: Path, engine: str, threads: int | None = None) -> Reader:
        """A reader of the saved model (``model_dir``) on ``engine``, using the export stage's files in
        ``engines_dir``; raises EngineUnavailable with the reason when this machine cannot run it."""
        if engine != "torch":
            raise EngineUnavailable(f"the {self.name} family serves with torch only")
        if threads:
            import torch

            torch.set_num_threads(threads)
        return self.load(model_dir)

    def bench(self, model_dir: Path, engines_dir: Path, images: Sequence[Image.Image], batch_sizes: list[int],
              singles: int, threads: int | None = None) -> Bench:
        """Engines for the benchmark stage; by default whole readings (image in, text out) per engine."""
        targets: dict[str, BenchTarget] = {}
        for engine in self.engines:
            try:
                reader = self.reader(model_dir, engines_dir, engine, threads)
            except EngineUnavailable:
                continue
            targets[engine] = BenchTarget(
                infer=lambda batch, r=reader: r.predict(batch, batch_size=len(batch)),
                batches=lambda size: [list(images[s : s + size]) for s in range(0, len(images), size)],
                singles=[[im] for im in images[:singles]])
        return Bench(targets, batch_sizes, headline=8 if 8 in batch_sizes else batch_sizes[0])
