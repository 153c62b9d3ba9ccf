"""Inference: everything that reads images, for every caller (evaluate, export parity, benchmark, the MLflow
pyfunc, the Bento, batch jobs).

``engines`` run a graph on arrays (torch, ONNX Runtime CPU/CUDA, TensorRT); ``lines`` batches line images
through an engine with a family's codec; ``detection`` finds text lines on a page; ``pages`` reads whole
pages (detect -> crop -> recognise in batches -> assemble); ``runtime`` loads a packaged model on the best
engine the machine has. Families plug in through ocrops.families; nothing here names one.
"""

from ocrops.inference.types import Engine, Prediction, Reader

__all__ = ["Engine", "Prediction", "Reader"]
