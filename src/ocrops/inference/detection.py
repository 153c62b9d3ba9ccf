"""PP-OCR text detection (DBNet on ONNX Runtime; PP-OCRv4's from the rapidocr-onnxruntime wheel unless a model
brings its own): a page -> line quads.

The probability map is binarised, each connected region becomes a rotated
rectangle, rectangles are scored on the map, grown back by the DB "unclip"
offset (the network predicts shrunk regions) and mapped to page coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pyclipper
from PIL import Image

from ocrops.data.geometry import crop_quad, order_points
from ocrops.inference.engines import release_arena
from ocrops.inference.lone_glyphs import fit_to_ink, lone_glyphs
from ocrops.inference.quads import drop_nested, frames, page_angle, weighted_median
from ocrops.inference.rapidocr import V4_DETECTOR

__all__ = ["DetectorSettings", "TextDetector", "crop_quad", "merge_line_segments", "order_points", "reading_order"]


@dataclass(frozen=True)
class DetectorSettings:
    limit_side: int = 736  # the shorter side is scaled up to this (PP-OCRv4's "min" limit)
    max_side: int = 2000
    thresh: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    min_size: int = 3
    # segments of one text line closer than this many line heights are one line (DBNet splits a line at wide
    # word gaps, symbols and low contrast); table cells stay separate and are read in row order. The service
    # and the stages set unclip_ratio and merge_gap from params.yaml (serve.unclip_ratio, serve.merge_gap)
    merge_gap: float = 1.8
    # DBNet's map barely responds to a lone thin glyph (a table's ↑/↓ flag, a lone "1"): inked glyphs in a
    # found line's row that no box covers become boxes of their own, and a glyph's box is fitted to its ink
    # (ocrops.inference.lone_glyphs)
    lone_glyphs: bool = True


RUN = 2.0  # a region this many times longer one way than the other is text running that way


class TextDetector:
    def __init__(self, settings: DetectorSettings = DetectorSettings(), providers: list[str] | None = None,
                 model: Path | None = None) -> None:
        """``model``: the DBNet ONNX file (a packaged model carries its own copy); default: PP-OCRv4's."""
        self.settings = settings
        self.session = ort.InferenceSession(str(model or V4_DETECTOR.locate()),
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

    def release_memory(self) -> None:
        """Give back what ONNX Runtime's arena holds; call when idle, so pages keep the arena's speed while they
        come."""
        release_arena(self.session)

    def probability(self, image: Image.Image) -> tuple[np.ndarray, float, float]:
        """DBNet's text probability map of a page, and the page-to-map scale (x, y)."""
        x, sx, sy = self._input(image)
        return self.session.run(None, {"x": x})[0][0, 0], sx, sy

    def detect(self, image: Image.Image, probability: tuple[np.ndarray, float, float] | None = None
               ) -> list[np.ndarray]:
        """Quadrilaterals (4x2 float arrays, page pixels, clockwise from top-left) in reading order;
        ``probability``: the page's map if already computed (calibration reuses it across settings)."""
        prob, sx, sy = probability if probability is not None else self.probability(image)
        bitmap = cv2.dilate((prob > self.settings.thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        for contour in contours[: self.settings.max_candidates]:
            box = self._box(contour, prob)
            if box is not None:
                box[:, 0] = np.clip(box[:, 0] * sx, 0, image.width - 1)
                box[:, 1] = np.clip(box[:, 1] * sy, 0, image.height - 1)
                boxes.append(box)
        boxes = merge_line_segments(drop_nested(boxes), self.settings.merge_gap)
        if self.settings.lone_glyphs:
            boxes = fit_to_ink(image, boxes + lone_glyphs(image, boxes))
        return reading_order(boxes)

    def runs_down(self, probability: tuple[np.ndarray, float, float]) -> bool:
        """Whether most of the page's text (by length) runs down it, as on a page turned a quarter: read from
        the map's regions before any joining (square ones, single glyphs, tell nothing)."""
        prob, sx, sy = probability
        contours, _ = cv2.findContours((prob > self.settings.thresh).astype(np.uint8), cv2.RETR_LIST,
                                       cv2.CHAIN_APPROX_SIMPLE)
        across = down = 0.0
        for contour in contours[: self.settings.max_candidates]:
            _, _, w, h = cv2.boundingRect(contour)
            w, h = w * sx, h * sy
            if w >= RUN * h:
                across += w
            elif h >= RUN * w:
                down += h
        return down > across

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


def merge_line_segments(boxes: list[np.ndarray], max_gap: float = 1.0) -> list[np.ndarray]:
    """Join the segments of one text line: same direction (within 10 degrees), heights within 2.2x (a word
    in lower case is shorter than one with capitals or CJK), the shorter one's height at least 60 % inside
    the taller one's band, and a gap along the line of at most ``max_gap`` heights; segments that overlap are
    joined too, so no word is read twice."""
    if len(boxes) < 2:
        return list(boxes)
    quads = np.stack(boxes).astype(np.float64)
    centre, direction, normal, half, height = frames(quads)
    offset = centre[None, :, :] - centre[:, None, :]  # [i, j] = centre j - centre i
    along = np.abs(np.einsum("ijk,ik->ij", offset, direction))
    across = np.abs(np.einsum("ijk,ik->ij", offset, normal))
    small = np.minimum(height[:, None], height[None, :])
    # how much the two segments' bands across the line overlap (in i's frame)
    shared = np.minimum((height[:, None] + height[None, :]) / 2 - across, small)
    join = ((np.abs(direction @ direction.T) > math.cos(math.radians(10)))
            & (np.maximum(height[:, None], height[None, :]) <= 2.2 * small)
            & (shared >= 0.6 * small)
            & (along - half[:, None] - half[None, :] <= max_gap * small))
    join &= join.T  # judged from both segments' frames
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(join, 1)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    merged = []
    for members in groups.values():
        if len(members) == 1:
            merged.append(boxes[members[0]])
            continue
        points = quads[members].reshape(-1, 2).astype(np.float32)
        merged.append(order_points(cv2.boxPoints(cv2.minAreaRect(points))))
    return merged


def reading_order(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Rows top to bottom, each left to right, in the page's own frame: the page is first turned by the median
    direction of its lines (a photo taken at an angle); a box joins the row whose course it is within half a
    line height of. A row's course is the straight line through its boxes, so the rows of a photo taken in
    perspective (not parallel: they fan out) are followed across the page; a row of one or two short boxes
    follows the slope of the long lines in its band of the page."""
    if not boxes:
        return []
    quads = np.stack(boxes).astype(np.float64)
    centre, direction, _, half, height = frames(quads)
    angle = page_angle(quads)
    cos, sin = math.cos(-angle), math.sin(-angle)
    x = centre[:, 0] * cos - centre[:, 1] * sin
    y = centre[:, 0] * sin + centre[:, 1] * cos
    # in a photo taken in perspective the lines' angles vary over the page: a short row follows the slope of
    # the long lines in its band of the page (their median weighted by length, as the page's angle), give or
    # take its noise (a rise of two pixels over the longest one's length), not the page's angle
    own = np.tan(np.arctan2(direction[:, 1], direction[:, 0]) - angle)
    long = half >= 2 * height
    local, noise = np.zeros(len(boxes)), np.zeros(len(boxes))
    for i in range(len(boxes)):
        if (band := long & (np.abs(y - y[i]) < 3 * height[i])).any():
            local[i] = np.clip(weighted_median(own[band], half[band]), -0.1, 0.1)
            noise[i] = 1 / half[band].max()

    def course(row: list[int], at: float) -> tuple[float, float]:
        """The row's height at ``at`` and how far it may be off (slopes of at most 0.1: perspective, not
        another row): on the line fitted through its boxes once they span a few line heights, else along its
        band's slope from its box nearest along."""
        xs, ys = x[row], y[row]
        if len(row) >= 2 and np.ptp(xs) > 4 * float(np.mean(height[row])):
            slope = float(np.clip(np.polyfit(xs, ys, 1)[0], -0.1, 0.1))
            return float(np.mean(ys - slope * xs) + slope * at), 0.0
        nearest = row[int(np.argmin(np.abs(xs - at)))]
        run = at - x[nearest]
        return float(y[nearest] + local[nearest] * run), float(noise[nearest] * abs(run))

    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda k: (y[k], x[k])):
        recent = range(max(0, len(rows) - 6), len(rows))  # a row more than six rows up is closed
        gaps, near = {}, []
        for r in recent:
            at, off = course(rows[r], x[i])
            gaps[r] = abs(y[i] - at)
            if gaps[r] < float(np.mean(height[rows[r]])) / 2 + off:
                near.append(r)
        if near:
            rows[min(near, key=gaps.__getitem__)].append(i)
        else:
            rows.append([i])
    middle = float(np.median(x))
    rows.sort(key=lambda row: course(row, middle)[0])
    return [boxes[i] for row in rows for i in sorted(row, key=lambda k: x[k] - half[k])]


