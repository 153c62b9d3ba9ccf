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


def rapidocr_pages():
    """RapidOCR's own page pipeline (PP-OCRv4 detection, angle classifier, recognition; its defaults) as a
    callable: an RGB page -> [(text, box)] in RapidOCR's order. The peer the page benchmark compares with."""
    import numpy as np
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def read(image):
        result, _ = engine(np.asarray(image.convert("RGB"))[:, :, ::-1])  # RapidOCR reads BGR arrays
        return [(text, [[float(x), float(y)] for x, y in box]) for box, text, _ in result or []]

    return read
