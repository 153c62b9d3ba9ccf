"""Image preprocessing a model can carry (saved with it in ``preprocess.json``); it runs in training and in
every prediction, whichever engine reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

PREPROCESS_FILE = "preprocess.json"


def enhance_scan(image: Image.Image, denoise: float = 7.0) -> Image.Image:
    """Preprocessing for noisy scans: non-local-means denoise, then detail enhancement (OpenCV only: the
    serving set has it, a Bento reads with what training used)."""
    import cv2

    array = np.asarray(image.convert("RGB"))
    array = cv2.fastNlMeansDenoisingColored(array, None, denoise, denoise, 7, 21)
    return Image.fromarray(cv2.detailEnhance(array, sigma_s=10, sigma_r=0.15))


PREPROCESSORS: dict[str, Callable[[Image.Image], Image.Image]] = {"enhance_scan": enhance_scan}


def apply(images: Sequence[Image.Image], name: str | None) -> list[Image.Image]:
    """The images as the model sees them: RGB, through the named preprocessing if there is one."""
    images = [im.convert("RGB") for im in images]
    if name is None:
        return images
    if name not in PREPROCESSORS:
        raise ValueError(f"unknown preprocessing {name!r}; known: {', '.join(PREPROCESSORS)}")
    return [PREPROCESSORS[name](im) for im in images]


def save(folder: Path, name: str | None) -> None:
    (folder / PREPROCESS_FILE).write_text(json.dumps({"preprocess": name}) + "\n", encoding="utf-8")


def load(folder: Path) -> str | None:
    path = Path(folder) / PREPROCESS_FILE
    return json.loads(path.read_text(encoding="utf-8"))["preprocess"] if path.exists() else None
