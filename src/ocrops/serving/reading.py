"""What one request reads: a line image as it is, a page through detection -> crops (the crops go to the
batched recognizer), and the response lines with boxes, post-processed per the request's switches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from ocrops.postprocess import Postprocessor

Mode = Literal["auto", "line", "page"]
# mode "auto": an image this short and this elongated is one text line (what the recognizer was trained on)
LINE_MAX_HEIGHT = 160
LINE_MIN_ASPECT = 2


def is_line(image: Image.Image) -> bool:
    return image.height <= LINE_MAX_HEIGHT and image.width >= LINE_MIN_ASPECT * image.height


@dataclass
class Region:
    box: list[list[float]]  # four corners in image pixels, clockwise from top-left
    crop: Image.Image


def widen(quad: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """The quad grown by ``margin`` x its line height on every side (within the image)."""
    line_height = max(float(np.ptp(quad[:, 1])), 1.0)
    grown = quad + np.sign(quad - quad.mean(axis=0)) * margin * line_height
    grown[:, 0] = grown[:, 0].clip(0, width - 1)
    grown[:, 1] = grown[:, 1].clip(0, height - 1)
    return grown.astype(np.float32)


def regions(image: Image.Image, mode: Mode, detector, margin: float = 0.3) -> tuple[str, list[Region]]:
    """("line" | "page", regions to recognise) for one image. Detected boxes hug the ink; the recognizer
    learnt from line images with some paper around the text, so crops get ``margin`` of it back."""
    w, h = image.size
    if mode == "line" or (mode == "auto" and is_line(image)):
        return "line", [Region([[0, 0], [w, 0], [w, h], [0, h]], image)]
    from ocrops.models.ppocr.detector import crop_quad

    quads: list[np.ndarray] = detector.detect(image)
    return "page", [Region(np.round(q, 1).tolist(), crop_quad(image, widen(q, margin, w, h))) for q in quads]


def assemble(mode: str, found: list[Region], readings: list[dict], post: Postprocessor,
             correct: bool | None, redact_pii: bool | None, min_confidence: float = 0.0) -> dict:
    """{"mode", "text", "lines": [{"text", "raw_text", "confidence", "box"}]} for one image."""
    lines = []
    for region, reading in zip(found, readings, strict=True):
        raw, conf = reading["text"], float(reading["confidence"])
        if mode == "page" and (not raw or conf < min_confidence):
            continue
        lines.append({"text": post(raw, conf, correct=correct, redact_pii=redact_pii), "raw_text": raw,
                      "confidence": round(conf, 5), "box": region.box})
    return {"mode": mode, "text": "\n".join(line["text"] for line in lines), "lines": lines}


def bbox(box: list[list[float]]) -> list[int]:
    """Four corners -> [x1, y1, x2, y2] (the glmocr layout protocol's ``bbox_2d``)."""
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    return [int(min(xs)), int(min(ys)), int(round(max(xs))), int(round(max(ys)))]
