"""Pages turned 90, 180 or 270 degrees without an EXIF tag to say so (a scanner's sideways page, a photo taken
upside down): found from the detected lines and the recognizer's own confidence, and read upright.

A page whose text mostly runs down it is turned a quarter (the detector's map tells:
``TextDetector.runs_down``); whether it (or a level page) is upside down, the recognizer tells: its longest lines
read with more confidence the right way up than turned round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ocrops.data.geometry import turn
from ocrops.inference.quads import frames

__all__ = ["Probe", "probe", "turn"]

PROBE_LINES = 4  # the longest lines read both ways
PROBE_GLYPHS = 10  # of each, the middle this many line heights long
UPSIDE_DOWN_MARGIN = 0.1  # turned round, they must read this much more confidently


@dataclass(frozen=True)
class Probe:
    """The longest lines' crops, as found and turned round."""

    crops: list[Image.Image]
    weights: list[float]

    @property
    def both_ways(self) -> list[Image.Image]:
        return self.crops + [c.transpose(Image.Transpose.ROTATE_180) for c in self.crops]

    def upside_down(self, confidences: Sequence[float]) -> bool:
        """From the confidences of ``both_ways``: whether the lines read better turned round."""
        n = len(self.crops)
        w = np.asarray(self.weights)
        as_found = float(np.dot(w, confidences[:n]) / w.sum())
        turned = float(np.dot(w, confidences[n:]) / w.sum())
        return turned > as_found + UPSIDE_DOWN_MARGIN


def probe(quads: Sequence[np.ndarray], crops: Sequence[Image.Image]) -> Probe | None:
    """The longest level lines to read both ways (None: no line long enough to tell, 3+ glyphs)."""
    if not quads:
        return None
    _, _, _, half, height = frames(np.stack(quads).astype(np.float64))
    length = 2 * half / height  # in glyphs, roughly
    order = [i for i in np.argsort(-length) if length[i] >= 3][:PROBE_LINES]
    if not order:
        return None
    return Probe([_middle(crops[i]) for i in order], [float(min(length[i], PROBE_GLYPHS)) for i in order])


def _middle(crop: Image.Image) -> Image.Image:
    """The middle of a long line, PROBE_GLYPHS line heights of it: enough to tell which way up it is, and the
    check costs the same on a page of long lines."""
    keep = PROBE_GLYPHS * crop.height
    if crop.width <= keep:
        return crop
    left = (crop.width - keep) // 2
    return crop.crop((left, 0, left + keep, crop.height))
