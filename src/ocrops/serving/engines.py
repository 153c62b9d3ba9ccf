"""Inference engines for the line recognizer: torch eager, ONNX Runtime (CPU / CUDA), TensorRT.

Every engine maps a preprocessed batch (N, 3, 48, W) float32 to class probabilities (N, T, C);
:class:`LineReader` adds the family's preprocessing, batching and CTC decoding on top, exactly as
``PPOCRModel.predict`` does, so engines are interchangeable and parity can be checked string by string.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from ocrops.models.base import PREPROCESS_FILE, PREPROCESSORS, Prediction
from ocrops.models.ppocr.ctc import greedy_decode
from ocrops.models.ppocr.preprocess import batch_arrays


class Engine(Protocol):
    name: str

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 -> (N, T, C) class probabilities."""


class TorchEngine:
    """The PyTorch module itself (eager mode), the reference every export is checked against."""

    name = "torch"

    def __init__(self, network, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.network = network.eval()
        self._torch = torch

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            return self.network(self._torch.from_numpy(batch)).softmax(-1).numpy()


class OrtEngine:
    """An ONNX model in ONNX Runtime; CUDA first where onnxruntime-gpu provides it."""

    def __init__(self, path: str | Path, name: str = "ort", threads: int | None = None,
                 providers: Sequence[str] | None = None, spinning: bool = True) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not spinning:  # idle threads sleep instead of busy-waiting: the CPU goes to other processes
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # graphs are optimised offline by the export stage; the session applies what is left (cheap)
        available = ort.get_available_providers()
        wanted = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = ort.InferenceSession(str(path), options, providers=list(wanted))
        self.name = name
        self.providers = self.session.get_providers()
        self.input = self.session.get_inputs()[0].name

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: batch})[0]


class LineReader:
    """Images -> texts with confidences through any engine (preprocessing, batching, CTC decoding)."""

    def __init__(self, engine: Engine, charset: Sequence[str], preprocess: str | None = None) -> None:
        self.engine, self.charset, self.preprocess = engine, list(charset), preprocess

    @classmethod
    def from_model_dir(cls, engine: Engine, model_dir: str | Path) -> LineReader:
        """Charset and preprocessing as saved with the model (``charset.txt``, ``preprocess.json``)."""
        model_dir = Path(model_dir)
        charset = (model_dir / "charset.txt").read_text(encoding="utf-8").split("\n")[:-1]
        preprocess = None
        if (model_dir / PREPROCESS_FILE).exists():
            preprocess = json.loads((model_dir / PREPROCESS_FILE).read_text(encoding="utf-8"))["preprocess"]
        return cls(engine, charset, preprocess)

    def prepare(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        images = [im.convert("RGB") for im in images]
        return [PREPROCESSORS[self.preprocess](im) for im in images] if self.preprocess else images

    def batches(self, images: Sequence[Image.Image], batch_size: int) -> list[tuple[list[int], np.ndarray]]:
        """(indices, array) per batch, lines of similar aspect ratio together (less padding)."""
        images = self.prepare(images)
        order = sorted(range(len(images)), key=lambda i: images[i].width / max(images[i].height, 1))
        chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        return [(chunk, batch_arrays([images[i] for i in chunk])) for chunk in chunks]

    def predict(self, images: Sequence[Image.Image], batch_size: int = 16) -> list[Prediction]:
        results: dict[int, Prediction] = {}
        for chunk, array in self.batches(images, batch_size):
            for i, (text, conf) in zip(chunk, greedy_decode(self.engine.infer(array), self.charset), strict=True):
                results[i] = Prediction(text, conf)
        return [results[i] for i in range(len(images))]
