"""Preprocessing a model carries (ocrops.inference.preprocess)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from conftest import line_image
from ocrops.inference.preprocess import apply, enhance_scan


def test_enhance_scan_keeps_size_and_reduces_noise():
    rng = np.random.default_rng(0)
    clean = np.asarray(line_image("noise", paper=230)).astype(float)
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
    out = enhance_scan(Image.fromarray(noisy))
    assert out.size == (noisy.shape[1], noisy.shape[0])
    background = (slice(30, 40), slice(150, 210))
    assert np.asarray(out)[background].std() < noisy[background].std()
    assert np.array_equal(np.asarray(apply([Image.fromarray(noisy)], "enhance_scan")[0]), np.asarray(out))
