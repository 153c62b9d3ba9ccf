"""What readers return and what engines and readers look like."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Prediction:
    text: str
    confidence: float


class Engine(Protocol):
    """A graph on a runtime: a preprocessed batch in, the model's outputs out (no decoding)."""

    name: str

    def infer(self, batch: np.ndarray) -> np.ndarray: ...


class Reader(Protocol):
    """Line images in, texts with confidences out (a family's model or engine, batching included)."""

    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]: ...


class EngineUnavailable(Exception):
    """This machine or package cannot run the engine asked for; the message says why (recorded as a skip)."""
