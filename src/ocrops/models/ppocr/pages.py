"""Full pages with the ppocr family: detection -> crops in reading order -> batched recognition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ocrops.models.base import OCRModel
from ocrops.models.ppocr.detector import TextDetector, crop_quad


@dataclass(frozen=True)
class PageLine:
    box: list[list[float]]  # four corners, page pixels, clockwise from top-left
    text: str
    confidence: float


@dataclass(frozen=True)
class PageResult:
    lines: list[PageLine]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def read_page(image: Image.Image, recognizer: OCRModel, detector: TextDetector,
              batch_size: int = 16, min_confidence: float = 0.0) -> PageResult:
    quads: list[np.ndarray] = detector.detect(image)
    crops = [crop_quad(image, q) for q in quads]
    predictions = recognizer.predict(crops, batch_size=batch_size) if crops else []
    lines = [
        PageLine(box=q.round(1).tolist(), text=p.text, confidence=p.confidence)
        for q, p in zip(quads, predictions, strict=True)
        if p.text and p.confidence >= min_confidence
    ]
    return PageResult(lines)
