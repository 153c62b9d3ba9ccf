"""CTC greedy decoding with per-line confidence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def greedy_decode(probs: np.ndarray, charset: Sequence[str]) -> list[tuple[str, float]]:
    """(N, T, C) class probabilities -> [(text, confidence)]; class 0 is the blank, class i is charset[i-1].

    Confidence is the mean probability of the emitted characters (PaddleOCR's convention), 0 for empty output.
    """
    best = probs.argmax(axis=2)
    score = probs.max(axis=2)
    results = []
    for ids, scores in zip(best, score, strict=True):
        keep = np.ones_like(ids, dtype=bool)
        keep[1:] = ids[1:] != ids[:-1]
        keep &= ids != 0
        text = "".join(charset[i - 1] for i in ids[keep])
        results.append((text, float(scores[keep].mean()) if keep.any() else 0.0))
    return results
