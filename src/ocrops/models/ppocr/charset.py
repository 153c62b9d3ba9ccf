"""The PP-OCRv4 recognizer's character dictionary, read from its ONNX metadata."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import onnx

REC_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
DET_MODEL = "ch_PP-OCRv4_det_infer.onnx"


def wheel_model(name: str) -> Path:
    """Path of an ONNX model shipped in the rapidocr-onnxruntime wheel."""
    path = Path(str(resources.files("rapidocr_onnxruntime") / "models" / name))
    if not path.exists():
        raise FileNotFoundError(f"{name} not found in rapidocr-onnxruntime (is rapidocr-onnxruntime==1.4.4 installed?)")
    return path


@lru_cache(maxsize=1)
def load_charset() -> tuple[str, ...]:
    """Dictionary characters in class order (class 0 is the CTC blank, so index i is class i+1).

    PaddleOCR appends a space class after the dictionary (use_space_char).
    """
    model = onnx.load(str(wheel_model(REC_MODEL)), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    chars = meta["character"].splitlines()
    if " " not in chars:
        chars.append(" ")
    return tuple(chars)
