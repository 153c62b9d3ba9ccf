"""PP-OCRv4 family: recognizer weights and dictionary come from the rapidocr-onnxruntime wheel."""
