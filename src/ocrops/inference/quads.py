"""Geometry of detected line quads (4 x 2 corners, clockwise from top-left; ``ocrops.data.geometry`` orders
them): each quad's frame, the page's text direction, nested quads."""

from __future__ import annotations

import cv2
import numpy as np


def frames(quads: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per quad (n x 4 x 2): centre, unit direction along the text, unit normal, half length, height."""
    tl, tr, br, bl = quads[:, 0], quads[:, 1], quads[:, 2], quads[:, 3]
    along = (tr - tl + br - bl) / 2
    length = np.linalg.norm(along, axis=1)
    direction = along / np.maximum(length, 1e-6)[:, None]
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    height = (np.linalg.norm(bl - tl, axis=1) + np.linalg.norm(br - tr, axis=1)) / 2
    return quads.mean(axis=1), direction, normal, length / 2, np.maximum(height, 1.0)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def page_angle(quads: np.ndarray) -> float:
    """The page's text direction in radians: the median of its lines' weighted by their length (a box's angle is
    good to a pixel or two over its length: a short one's is noise, and snaps to level on a slightly skewed
    scan)."""
    _, direction, _, half, _ = frames(quads)
    return weighted_median(np.arctan2(direction[:, 1], direction[:, 0]), half)


def drop_nested(quads: list[np.ndarray], share: float = 0.8) -> list[np.ndarray]:
    """The quads without those lying ``share`` or more inside a larger one (DBNet's box of a hole in a line's
    region, or of a piece of it): the line is read once."""
    areas = [cv2.contourArea(q.astype(np.float32)) for q in quads]
    kept = []
    for i, q in enumerate(quads):
        inside = any(areas[j] > areas[i] and cv2.intersectConvexConvex(q.astype(np.float32),
                                                                        quads[j].astype(np.float32))[0]
                     >= share * areas[i] for j in range(len(quads)) if j != i)
        if not inside:
            kept.append(q)
    return kept
