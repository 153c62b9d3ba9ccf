"""Inference engines: torch eager, ONNX Runtime (CPU / CUDA); TensorRT is in ocrops.inference.tensorrt.

Every engine maps a preprocessed batch (a float32 array) to the model's outputs; what the arrays hold and how
outputs become text is the family's codec (ocrops.inference.lines), so engines are interchangeable and parity
can be checked string by string.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


class TorchEngine:
    """A PyTorch module in eager mode (the reference every export is checked against); ``head`` turns the
    module's output into what the exported graphs output (e.g. a softmax)."""

    name = "torch"

    def __init__(self, module, threads: int | None = None, head: str | None = "softmax") -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.module = module.eval()
        self.head = head
        self._torch = torch

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            device = next(self.module.parameters()).device  # a module trained on a GPU reads there
            out = self.module(self._torch.from_numpy(batch).to(device))
            return (out.softmax(-1) if self.head == "softmax" else out).cpu().numpy()


class OrtEngine:
    """An ONNX model in ONNX Runtime; CUDA first where onnxruntime-gpu provides it."""

    def __init__(self, path: str | Path, name: str = "ort", threads: int | None = None,
                 providers: Sequence[str] | None = None, spinning: bool = True, max_batch: int | None = None) -> None:
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
        self.name, self.max_batch = name, max_batch  # max_batch 1: lines of a batch would change each other
        self.providers = self.session.get_providers()
        self.input = self.session.get_inputs()[0].name

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: batch})[0]

    def release_memory(self) -> None:
        release_arena(self.session)


def release_arena(session) -> None:
    """Shrink an ONNX Runtime session's arena to what is in use (nothing, when idle): it keeps its largest run's
    activations otherwise (a detector's 2000x2000 page: over a gigabyte). The arena shrinks after a run with
    this option: one on a tiny input (batch 1, other free dimensions 32); sessions with other inputs are left."""
    import onnxruntime as ort

    spec = session.get_inputs()
    if len(spec) != 1 or spec[0].type != "tensor(float)":
        return
    shape = [d if isinstance(d, int) else (1 if i == 0 else 32) for i, d in enumerate(spec[0].shape)]
    options = ort.RunOptions()
    devices = "cpu:0;gpu:0" if "CUDAExecutionProvider" in session.get_providers() else "cpu:0"
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", devices)
    session.run(None, {spec[0].name: np.zeros(shape, np.float32)}, options)

def cuda_provider_available() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()
