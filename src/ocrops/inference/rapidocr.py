"""The PP-OCRv4 ONNX models shipped inside the rapidocr-onnxruntime wheel (no download at run time), and
RapidOCR's own page pipeline, the peer the benchmarks compare with."""

from __future__ import annotations

from ocrops.inference.wheel_files import WheelFile

_WHEEL = ("rapidocr-onnxruntime", "1.4.4")
V4_RECOGNIZER = WheelFile(
    *_WHEEL, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
    "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b")  # pragma: allowlist secret
V4_DETECTOR = WheelFile(
    *_WHEEL, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
    "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9")  # pragma: allowlist secret


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
