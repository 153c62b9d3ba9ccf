"""The ppocr line codec: images -> (N, 3, 48, W) batches, each line at its own padded width; class
probabilities -> text by greedy CTC."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ocrops.models.ppocr.ctc import greedy_decode
from ocrops.models.ppocr.preprocess import batch_arrays, padded_width


class CTCCodec:
    def __init__(self, charset: Sequence[str]) -> None:
        self.charset = list(charset)

    def width(self, image: Image.Image) -> int:
        return padded_width(image)

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        return batch_arrays(images, width=max(self.width(im) for im in images))

    def decode(self, outputs: np.ndarray) -> list[tuple[str, float]]:
        return greedy_decode(outputs, self.charset)
