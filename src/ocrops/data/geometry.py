"""Geometry of line quadrilaterals (4 x 2 corners, clockwise from top-left) on an image: corner order, growing a
quad by a margin, cutting it out upright. Shared by the page reader and the line importers."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image


def order_points(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left."""
    points = points[np.argsort(points[:, 0])]
    left, right = points[:2], points[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], dtype=np.float32)


# a crop is at least this many line heights long: a lone glyph reads better with paper beside it, and its crop
# never passes for a column of vertical text (crop_quad turns crops 1.5 times taller than long)
MIN_CROP_LENGTH = 1.1
VERTICAL = 0.3  # a box shorter than this many of its heights is a column of vertical text (4+ glyphs): kept


def widen(quad: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """The quad grown by ``margin`` x its line height on every side, and along the text to ``MIN_CROP_LENGTH``
    line heights (within the image)."""
    line_height = max(float(np.ptp(quad[:, 1])), 1.0)
    grown = quad + np.sign(quad - quad.mean(axis=0)) * margin * line_height
    along = (grown[1] - grown[0] + grown[2] - grown[3]) / 2
    length = float(np.linalg.norm(along))
    short = MIN_CROP_LENGTH * line_height - length
    if short > 0 and np.linalg.norm(quad[1] - quad[0] + quad[2] - quad[3]) / 2 >= VERTICAL * line_height:
        step = along / length * short / 2
        grown[[0, 3]] -= step
        grown[[1, 2]] += step
    grown[:, 0] = grown[:, 0].clip(0, width - 1)
    grown[:, 1] = grown[:, 1].clip(0, height - 1)
    return grown.astype(np.float32)


# Image.transpose for a clockwise turn of so many degrees
_TURNS = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


def turn(image: Image.Image, degrees: int) -> Image.Image:
    """``image`` turned clockwise by 0, 90, 180 or 270 degrees."""
    return image if degrees % 360 == 0 else image.transpose(_TURNS[degrees % 360])


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
