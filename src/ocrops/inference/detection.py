"""PP-OCRv4 text detection (DBNet on ONNX Runtime, weights from the rapidocr wheel): a page -> line quads.

The probability map is binarised, each connected region becomes a rotated
rectangle, rectangles are scored on the map, grown back by the DB "unclip"
offset (the network predicts shrunk regions) and mapped to page coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort
import pyclipper
from PIL import Image

from ocrops.inference.rapidocr import DET_MODEL, wheel_model


@dataclass(frozen=True)
class DetectorSettings:
    limit_side: int = 736  # the shorter side is scaled up to this (PP-OCRv4's "min" limit)
    max_side: int = 2000
    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    min_size: int = 3


class TextDetector:
    def __init__(self, settings: DetectorSettings = DetectorSettings(), providers: list[str] | None = None) -> None:
        self.settings = settings
        self.session = ort.InferenceSession(str(wheel_model(DET_MODEL)),
                                            providers=providers or ["CPUExecutionProvider"])

    def _input(self, image: Image.Image) -> tuple[np.ndarray, float, float]:
        w, h = image.size
        scale = max(1.0, self.settings.limit_side / min(w, h))
        scale = min(scale, self.settings.max_side / max(w, h))
        new_w = max(32, int(round(w * scale / 32)) * 32)
        new_h = max(32, int(round(h * scale / 32)) * 32)
        array = np.asarray(image.convert("RGB").resize((new_w, new_h), Image.Resampling.BILINEAR), np.float32)
        array = (array[:, :, ::-1] / 255.0 - 0.5) / 0.5  # BGR, as PaddleOCR reads images
        return array.transpose(2, 0, 1)[None].copy(), w / new_w, h / new_h

    def detect(self, image: Image.Image) -> list[np.ndarray]:
        """Quadrilaterals (4x2 float arrays, page pixels, clockwise from top-left) in reading order."""
        x, sx, sy = self._input(image)
        prob = self.session.run(None, {"x": x})[0][0, 0]
        bitmap = cv2.dilate((prob > self.settings.thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        for contour in contours[: self.settings.max_candidates]:
            box = self._box(contour, prob)
            if box is not None:
                box[:, 0] = np.clip(box[:, 0] * sx, 0, image.width - 1)
                box[:, 1] = np.clip(box[:, 1] * sy, 0, image.height - 1)
                boxes.append(box)
        return reading_order(boxes)

    def _box(self, contour: np.ndarray, prob: np.ndarray) -> np.ndarray | None:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < self.settings.min_size:
            return None
        if _region_score(prob, cv2.boxPoints(rect)) < self.settings.box_thresh:
            return None
        grown = _unclip(cv2.boxPoints(rect), self.settings.unclip_ratio)
        if grown is None:
            return None
        rect = cv2.minAreaRect(grown)
        if min(rect[1]) < self.settings.min_size + 2:
            return None
        return order_points(cv2.boxPoints(rect))


def _region_score(prob: np.ndarray, points: np.ndarray) -> float:
    h, w = prob.shape
    xmin, ymin = np.clip(np.floor(points.min(0)).astype(int), 0, [w - 1, h - 1])
    xmax, ymax = np.clip(np.ceil(points.max(0)).astype(int), 0, [w - 1, h - 1])
    mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), np.uint8)
    cv2.fillPoly(mask, [(points - [xmin, ymin]).astype(np.int32)], 1)
    return float(cv2.mean(prob[ymin : ymax + 1, xmin : xmax + 1], mask)[0])


def _unclip(points: np.ndarray, ratio: float) -> np.ndarray | None:
    area = cv2.contourArea(points)
    length = cv2.arcLength(points, True)
    if length == 0:
        return None
    offset = pyclipper.PyclipperOffset()
    offset.AddPath([tuple(p) for p in points.astype(np.int64)], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    expanded = offset.Execute(area * ratio / length)
    if len(expanded) != 1:
        return None
    return np.array(expanded[0], dtype=np.float32)


def order_points(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left."""
    points = points[np.argsort(points[:, 0])]
    left, right = points[:2], points[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


def reading_order(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Top to bottom; boxes whose vertical centres are within half a line height are one row, left to right."""
    if not boxes:
        return []
    boxes = sorted(boxes, key=lambda b: (b[:, 1].mean(), b[:, 0].min()))
    rows: list[list[np.ndarray]] = [[boxes[0]]]
    for box in boxes[1:]:
        last = rows[-1][-1]
        height = max(float(np.ptp(last[:, 1])), 1.0)
        if abs(box[:, 1].mean() - last[:, 1].mean()) < height / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [b for row in rows for b in sorted(row, key=lambda b: b[:, 0].min())]


def crop_quad(image: Image.Image, quad: np.ndarray) -> Image.Image:
    """Rectify a quadrilateral to an upright crop; tall crops (vertical text) are rotated to horizontal."""
    tl, tr, br, bl = quad
    width = int(max(math.dist(tl, tr), math.dist(bl, br)))
    height = int(max(math.dist(tl, bl), math.dist(tr, br)))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    crop = cv2.warpPerspective(np.asarray(image.convert("RGB")), matrix, (width, height),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if height / width >= 1.5:
        crop = np.rot90(crop)
    return Image.fromarray(np.ascontiguousarray(crop))
