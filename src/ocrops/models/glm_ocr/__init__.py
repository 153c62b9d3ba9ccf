"""The ``glm-ocr`` family: GLM-OCR (transformers) fine-tuned with LoRA or fully, prompt ``Text Recognition:``."""
