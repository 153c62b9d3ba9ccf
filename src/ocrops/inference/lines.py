"""Line images through any engine: preprocessing, batching by aspect ratio, decoding (the family's codec)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from ocrops.inference import preprocess
from ocrops.inference.types import Engine, Prediction


class LineCodec(Protocol):
    """A family's line format: images -> one padded input batch; engine outputs -> (text, confidence)."""

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def decode(self, outputs: np.ndarray) -> list[tuple[str, float]]: ...


class LineReader:
    """Images -> texts with confidences through ``engine``; the same for every engine of a family."""

    def __init__(self, engine: Engine, codec: LineCodec, preprocessing: str | None = None) -> None:
        self.engine, self.codec, self.preprocessing = engine, codec, preprocessing

    def prepare(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        return preprocess.apply(images, self.preprocessing)

    def batches(self, images: Sequence[Image.Image], batch_size: int) -> list[tuple[list[int], np.ndarray]]:
        """(indices, array) per batch, lines of similar aspect ratio together (less padding)."""
        images = self.prepare(images)
        order = sorted(range(len(images)), key=lambda i: images[i].width / max(images[i].height, 1))
        chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        return [(chunk, self.codec.encode([images[i] for i in chunk])) for chunk in chunks]

    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]:
        results: dict[int, Prediction] = {}
        for chunk, array in self.batches(images, batch_size):
            decoded = self.codec.decode(self.engine.infer(array))
            for i, (text, conf) in zip(chunk, decoded, strict=True):
                results[i] = Prediction(text, conf)
        return [results[i] for i in range(len(images))]
