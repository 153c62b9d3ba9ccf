"""The PP-OCRv4 ONNX models shipped inside the rapidocr-onnxruntime wheel (no download at run time)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

REC_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
DET_MODEL = "ch_PP-OCRv4_det_infer.onnx"


def wheel_model(name: str) -> Path:
    """Path of an ONNX model shipped in the rapidocr-onnxruntime wheel."""
    path = Path(str(resources.files("rapidocr_onnxruntime") / "models" / name))
    if not path.exists():
        raise FileNotFoundError(f"{name} not found in rapidocr-onnxruntime (is rapidocr-onnxruntime==1.4.4 installed?)")
    return path
