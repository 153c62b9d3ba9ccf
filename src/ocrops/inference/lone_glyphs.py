"""Lone glyphs DBNet does not box: a thin mark standing alone in a table row (the ↑/↓ flag of a lab result, a
lone "1") gets almost no response on its probability map. Ink the size of a glyph, in the row of a line that
was found and covered by no box, becomes a box of its own, for the recognizer to read.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from ocrops.inference.quads import frames, page_angle

INK_CONTRAST = 15  # grey levels darker than the mean around it
ROW_BAND = 0.4  # a glyph's centre within this many row heights of the row's centre line
GLYPH_HEIGHT = (0.5, 1.1)  # a glyph's ink height against its row's line height
GLYPH_WIDTH = 0.8  # at most this many row heights wide: one narrow glyph, not a word
TAIL_GAP = 0.5  # closer than this many row heights to a found line's end: part of that line
# the box: the ink plus a side bearing each side (a tighter box read arrows worse), at least GLYPH_BOX_WIDTH wide
# (a hair-thin glyph's ink under-fills its advance, which labels box), and 10 % above and below
SIDE_BEARING = 0.25  # ink heights each side
GLYPH_BOX_WIDTH = 0.7  # ink heights, the narrowest box


def lone_glyphs(image: Image.Image, boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Boxes for glyphs that lie alone in the rows of ``boxes`` (the lines found), in the rows' direction."""
    if not boxes:
        return []
    quads = np.stack(boxes).astype(np.float64)
    centre, _, _, half, height = frames(quads)
    angle = page_angle(quads)  # the page's direction: a short box's own angle is noisy
    direction = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    typical = float(np.median(height))
    # ink against the local background (shadows and uneven light in photos), found boxes blanked out
    ink = cv2.adaptiveThreshold(np.asarray(image.convert("L")), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                cv2.THRESH_BINARY_INV, 2 * round(typical) + 1, INK_CONTRAST)
    for quad in quads:
        grown = quad + np.sign(quad - quad.mean(axis=0)) * 0.15 * typical
        cv2.fillPoly(ink, [np.round(grown).astype(np.int32)], 0)
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    found = []
    for x, y, w, h, pixels in stats[1:count]:
        if not 0.4 * typical <= h <= 2 * typical:  # specks and rules: most of a photo's components
            continue
        middle = np.array([x + w / 2, y + h / 2])
        offset = middle - centre
        in_row = np.nonzero(np.abs(offset @ normal) < ROW_BAND * height)[0]
        if not len(in_row):
            continue
        nearest = in_row[np.argmin(np.abs(offset[in_row] @ direction))]  # the nearest line along its row
        row_height = height[nearest]
        if not (GLYPH_HEIGHT[0] * row_height <= h <= GLYPH_HEIGHT[1] * row_height
                and w <= GLYPH_WIDTH * row_height and pixels >= 0.8 * h):
            continue
        if abs(offset[nearest] @ direction) - half[nearest] - w / 2 < TAIL_GAP * row_height:
            continue  # ink hugging a found line's end is that line's unboxed tail, read with it or not at all
        half_w, half_h = max(w / 2 + SIDE_BEARING * h, GLYPH_BOX_WIDTH * h / 2), 0.6 * h
        along, across = direction * half_w, normal * half_h
        found.append(np.array([middle - along - across, middle + along - across, middle + along + across,
                               middle - along + across], dtype=np.float32))
    return found


# a glyph's box, as a font gives it: its ink plus a side bearing each side (calibrated on the validation pages:
# detection F1 0.9865 -> 0.9966 at 0.11-0.13, 0.9865 again from 0.2); DBNet boxes a lone glyph about twice as wide
GLYPH_BEARING = 0.12  # box heights each side
GLYPH_INK_CONTRAST = 25  # grey levels darker than the box's mean
NARROW = 1.0  # a box narrower than this many of its heights holds one glyph


def fit_to_ink(image: Image.Image, boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Level boxes of one glyph (narrower than they are high) narrowed to the glyph's ink and side bearings; the
    crop keeps paper around it (``data.geometry.widen``), so the recognizer reads it as before."""
    if not boxes:
        return boxes
    grey = np.asarray(image.convert("L"))
    _, direction, _, half, height = frames(np.stack(boxes).astype(np.float64))
    fitted = []
    for quad, along, half_length, h in zip(boxes, direction, half, height, strict=True):
        if 2 * half_length >= NARROW * h or abs(along[1]) > 0.1:  # a word, or a turned box: kept
            fitted.append(quad)
            continue
        (x0, y0), (x1, y1) = np.floor(quad.min(axis=0)).astype(int), np.ceil(quad.max(axis=0)).astype(int)
        patch = grey[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1]
        columns = np.nonzero((patch < patch.mean() - GLYPH_INK_CONTRAST).any(axis=0))[0] if patch.size else []
        left, right = (max(x0, 0) + columns[0] - GLYPH_BEARING * h, max(x0, 0) + columns[-1] + 1 + GLYPH_BEARING * h
                       ) if len(columns) else (0.0, np.inf)
        if right - left >= 2 * half_length:
            fitted.append(quad)
            continue
        narrowed = quad.copy()
        narrowed[[0, 3], 0], narrowed[[1, 2], 0] = left, right
        fitted.append(narrowed)
    return fitted
