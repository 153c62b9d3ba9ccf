"""The family interface: what every model family provides to the rest of ocrops."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

FAMILY_FILE = "family.txt"
PREPROCESS_FILE = "preprocess.json"


def _enhance_scan(image: Image.Image) -> Image.Image:
    from ocrops.augment import enhance_scan

    return enhance_scan(image)


# Image preprocessing a model can carry; it runs in training and in every prediction.
PREPROCESSORS: dict[str, Callable[[Image.Image], Image.Image]] = {"enhance_scan": _enhance_scan}


@dataclass(frozen=True)
class Prediction:
    text: str
    confidence: float


class OCRModel(ABC):
    """A trainable line recognizer: images in, texts with confidences out."""

    family: str
    #: set while a distributed wrapper (DDP) of :attr:`module` trains; ``loss`` runs through it
    train_wrapper: torch.nn.Module | None = None
    #: name of a :data:`PREPROCESSORS` entry applied to every image, saved with the model
    preprocess: str | None = None

    def prepare(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        """The images as the model sees them: RGB, through the model's preprocessing if it has one."""
        images = [im.convert("RGB") for im in images]
        if self.preprocess is None:
            return images
        if self.preprocess not in PREPROCESSORS:
            raise ValueError(f"unknown preprocessing {self.preprocess!r}; known: {', '.join(PREPROCESSORS)}")
        return [PREPROCESSORS[self.preprocess](im) for im in images]

    def save_preprocess(self, path: Path) -> None:
        (path / PREPROCESS_FILE).write_text(json.dumps({"preprocess": self.preprocess}) + "\n", encoding="utf-8")

    def load_preprocess(self, path: Path) -> None:
        if (path / PREPROCESS_FILE).exists():
            self.preprocess = json.loads((path / PREPROCESS_FILE).read_text(encoding="utf-8"))["preprocess"]

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
        """Write everything needed to rebuild the model into a directory."""

    def restore(self, path: str | Path) -> None:
        """Load the trainable state saved by :meth:`save` into this (already prepared) model."""
        self.module.load_state_dict(load_model(path).module.state_dict())

    def export_onnx(self, path: str | Path) -> Path:
        raise NotImplementedError(f"family {self.family} cannot export to ONNX")


_FAMILIES: dict[str, tuple[Callable[..., OCRModel], Callable[[Path], OCRModel]]] = {}


def register_family(name: str, pretrained: Callable[..., OCRModel], load: Callable[[Path], OCRModel]) -> None:
    _FAMILIES[name] = (pretrained, load)


# Where each built-in family registers itself; imported on first use, so loading a ppocr
# model never pays for importing transformers and peft.
_BUILTIN: dict[str, str] = {"ppocr": "ocrops.models.ppocr.model", "glm-ocr": "ocrops.models.glm_ocr.model"}


def families() -> list[str]:
    return sorted(set(_FAMILIES) | set(_BUILTIN))


def _family(name: str) -> tuple[Callable[..., OCRModel], Callable[[Path], OCRModel]]:
    if name not in _FAMILIES and name in _BUILTIN:
        import importlib

        importlib.import_module(_BUILTIN[name])
    if name not in _FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(families())}")
    return _FAMILIES[name]


def pretrained(family: str, **kwargs) -> OCRModel:
    return _family(family)[0](**kwargs)


def load_model(path: str | Path) -> OCRModel:
    """Load a model saved by :meth:`OCRModel.save`, whatever its family."""
    path = Path(path)
    marker = path / FAMILY_FILE
    if not marker.exists():
        raise FileNotFoundError(f"{path} is not a saved ocrops model (no {FAMILY_FILE})")
    return _family(marker.read_text(encoding="utf-8").strip())[1](path)
