"""The model interface every family implements: a trainable line recognizer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from ocrops.family import FAMILY_FILE
from ocrops.inference import preprocess
from ocrops.inference.types import Prediction


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
        from ocrops.models import load_model

        self.module.load_state_dict(load_model(path).module.state_dict())
