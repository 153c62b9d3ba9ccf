"""ocrops: an MLOps workflow for GLM-OCR."""

from ocrops.env import quiet_telemetry

quiet_telemetry()

__version__ = "0.1.0"
