"""Deterministic train/val/test assignment by content hash.

Hashing the image bytes (not the file name) keeps identical images in the same
split, so a re-imported copy can never leak from train into test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ocrops.config import SplitRatios

_BUCKETS = 10_000


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_for_hash(sha256: str, ratios: SplitRatios = SplitRatios()) -> str:
    """Map a hex digest to a split; the same digest always gets the same split."""
    bucket = int(sha256[:12], 16) % _BUCKETS / _BUCKETS
    if bucket < ratios.train:
        return "train"
    if bucket < ratios.train + ratios.val:
        return "val"
    return "test"
