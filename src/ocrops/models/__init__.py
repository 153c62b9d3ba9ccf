"""Model families (``ppocr``, ``glm-ocr``) behind one interface."""

from __future__ import annotations


def family_vocabulary(family: str) -> frozenset[str] | None:
    """Characters a family can emit; None where any text is representable (byte-level tokenizers)."""
    if family == "ppocr":
        from ocrops.models.ppocr.charset import load_charset

        return frozenset(load_charset())
    if family == "glm-ocr":
        return None
    raise ValueError(f"unknown model family {family!r}")
