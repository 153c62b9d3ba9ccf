"""Images to the recognizer's input: height 48, width by aspect ratio, [-1, 1], right-padded."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

HEIGHT = 48
MIN_WIDTH = 16
MAX_WIDTH = 1600  # ~ 33:1 lines; longer ones are squeezed
# Reading pads every line to the next multiple of this, whatever else is in its batch: the network mixes the
# whole width (attention, squeeze-excite), so padding that depended on the batch would change what a line reads.
PAD_STEP = 32
# dynamic int8 quantises activations with one scale per tensor, i.e. per batch: lines are read one at a time so
# that another line's brightest pixel never changes this line's reading
INT8_MAX_BATCH = 1


def resized_width(image: Image.Image, height: int = HEIGHT, max_width: int = MAX_WIDTH) -> int:
    w, h = image.size
    return max(MIN_WIDTH, min(max_width, math.ceil(height * w / max(h, 1))))


def to_array(image: Image.Image, height: int = HEIGHT, max_width: int = MAX_WIDTH) -> np.ndarray:
    """One RGB image -> (3, height, width) float32 in [-1, 1]."""
    width = resized_width(image, height, max_width)
    resized = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (array - 0.5) / 0.5


def padded_width(image: Image.Image, height: int = HEIGHT, max_width: int = MAX_WIDTH) -> int:
    """The width one line is read at: its own width rounded up to PAD_STEP (never more than max_width)."""
    return min(max_width, math.ceil(resized_width(image, height, max_width) / PAD_STEP) * PAD_STEP)


def batch_arrays(images: Sequence[Image.Image], height: int = HEIGHT, max_width: int = MAX_WIDTH,
                 multiple: int = 8, width: int | None = None) -> np.ndarray:
    """A batch padded on the right with zeros (as PaddleOCR pads) to ``width``, or to the widest line rounded
    up to ``multiple`` (training batches: padding varies with the batch, which the model learns to ignore)."""
    arrays = [to_array(im, height, max_width) for im in images]
    if width is None:
        width = math.ceil(max(a.shape[2] for a in arrays) / multiple) * multiple
    batch = np.zeros((len(arrays), 3, height, width), dtype=np.float32)
    for i, a in enumerate(arrays):
        batch[i, :, :, : a.shape[2]] = a
    return batch
