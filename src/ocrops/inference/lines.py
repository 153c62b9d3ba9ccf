"""Line images through any engine: preprocessing, batching by aspect ratio, decoding (the family's codec)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from ocrops.inference import preprocess
from ocrops.inference.types import Engine, Prediction


class LineCodec(Protocol):
    """A family's line format: the input width of one line (fixed by the line alone), images of one width ->
    an input batch, engine outputs -> (text, confidence)."""

    def width(self, image: Image.Image) -> int: ...

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def decode(self, outputs: np.ndarray) -> list[tuple[str, float]]: ...


class LineReader:
    """Images -> texts with confidences through ``engine``; the same for every engine of a family.

    Batch-invariant: a batch only ever holds lines of one input width, so no line is padded because of another
    and what a line reads does not depend on what it is read with. An engine whose arithmetic couples the lines
    of a batch (dynamic int8 quantises with one scale per batch) says so with ``max_batch = 1``."""

    def __init__(self, engine: Engine, codec: LineCodec, preprocessing: str | None = None) -> None:
        self.engine, self.codec, self.preprocessing = engine, codec, preprocessing

    def prepare(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        return preprocess.apply(images, self.preprocessing)

    def batches(self, images: Sequence[Image.Image], batch_size: int) -> list[tuple[list[int], np.ndarray]]:
        """(indices, array) per batch: lines grouped by input width, at most ``batch_size`` per batch."""
        images = self.prepare(images)
        size = min(batch_size, getattr(self.engine, "max_batch", None) or batch_size)
        widths = [self.codec.width(im) for im in images]
        order = sorted(range(len(images)), key=lambda i: (widths[i], i))
        groups: dict[int, list[int]] = {}
        for i in order:
            groups.setdefault(widths[i], []).append(i)
        chunks = [g[s : s + size] for g in groups.values() for s in range(0, len(g), size)]
        return [(chunk, self.codec.encode([images[i] for i in chunk])) for chunk in chunks]

    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]:
        results: dict[int, Prediction] = {}
        for chunk, array in self.batches(images, batch_size):
            decoded = self.codec.decode(self.engine.infer(array))
            for i, (text, conf) in zip(chunk, decoded, strict=True):
                results[i] = Prediction(text, conf)
        return [results[i] for i in range(len(images))]
