"""The ppocr family (the embedded default): PP-OCRv4's recognizer ported to PyTorch and fine-tuned with CTC;
weights and dictionary come from the rapidocr-onnxruntime wheel, so it runs anywhere, CPUs included."""

from ocrops.families import Family

family = Family(
    name="ppocr",
    implementation="ocrops.models.ppocr.plugin:PPOCRFamily",
    presets=("ppocr-v4",),
    description="PP-OCRv4 recognizer (PyTorch port), CTC; CPU and GPU",
)
