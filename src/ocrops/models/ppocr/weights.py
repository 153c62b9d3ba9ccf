"""Loading the released PP-OCRv4 ONNX weights into :class:`TextRecognizer`.

The ONNX graph keeps its weights in Constant nodes. We collect them by role,
in graph order — convolutions, batch norms, affine scalars, layer norms,
linear layers — and assign them to the PyTorch modules of the same role in
execution order, checking every shape.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from ocrops.inference.rapidocr import REC_MODEL, wheel_model
from ocrops.models.ppocr.modules import LearnableAffine
from ocrops.models.ppocr.network import RecognizerConfig, TextRecognizer


class WeightMappingError(RuntimeError):
    pass


def _onnx_weights(path: Path) -> dict[str, list[list[np.ndarray]]]:
    graph = onnx.load(str(path)).graph
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    def follow_add(node: onnx.NodeProto) -> np.ndarray | None:
        """The constant of an Add consuming this node's output, if any."""
        for nxt in consumers[node.output[0]]:
            if nxt.op_type == "Add":
                const = [consts[i] for i in nxt.input if i in consts]
                if const:
                    return const[0]
        return None

    found: dict[str, list[list[np.ndarray]]] = defaultdict(list)
    for node in graph.node:
        ins = [consts.get(i) for i in node.input]
        if node.op_type == "Conv":
            found["conv"].append([w for w in ins[1:] if w is not None])
        elif node.op_type == "BatchNormalization":
            found["bn"].append(ins[1:5])
        elif node.op_type == "MatMul" and ins[1] is not None:
            found["linear"].append([ins[1], follow_add(node)])
        elif node.op_type == "Mul" and ins[0] is not None and ins[0].size == 1:
            bias = follow_add(node)  # LearnableAffine: scale * x then + bias
            if bias is not None and bias.size == 1:
                found["affine"].append([ins[0], bias])
        elif node.op_type == "Mul" and ins[1] is not None and ins[1].ndim == 1 and ins[1].size > 1:
            found["layernorm"].append([ins[1], follow_add(node)])  # normalised * gamma + beta
    return found


def _assign(param: torch.Tensor, value: np.ndarray, where: str) -> None:
    value = np.array(value, dtype=np.float32)  # a writable copy
    if tuple(param.shape) != value.shape:
        raise WeightMappingError(f"{where}: ONNX {value.shape} vs PyTorch {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(value))


def load_onnx_weights(model: TextRecognizer, path: Path | None = None) -> TextRecognizer:
    """Copy the ONNX recognizer's weights into ``model`` (whose config must match the graph)."""
    found = _onnx_weights(path or wheel_model(REC_MODEL))
    groups = {
        "conv": [m for m in model.modules() if isinstance(m, nn.Conv2d)],
        "bn": [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)],
        "affine": [m for m in model.modules() if isinstance(m, LearnableAffine)],
        "layernorm": [m for m in model.modules() if isinstance(m, nn.LayerNorm)],
        "linear": [m for m in model.modules() if isinstance(m, nn.Linear)],
    }
    for role, modules in groups.items():
        if len(modules) != len(found[role]):
            raise WeightMappingError(f"{role}: graph has {len(found[role])}, model has {len(modules)}")
    for i, (conv, ws) in enumerate(zip(groups["conv"], found["conv"], strict=True)):
        _assign(conv.weight, ws[0], f"conv {i}")
        if conv.bias is not None:
            _assign(conv.bias, ws[1], f"conv {i} bias")
    for i, (bn, (scale, shift, mean, var)) in enumerate(zip(groups["bn"], found["bn"], strict=True)):
        _assign(bn.weight, scale, f"bn {i}")
        _assign(bn.bias, shift, f"bn {i}")
        _assign(bn.running_mean, mean, f"bn {i}")
        _assign(bn.running_var, var, f"bn {i}")
    for i, (lab, (scale, bias)) in enumerate(zip(groups["affine"], found["affine"], strict=True)):
        _assign(lab.scale, scale.reshape(1), f"affine {i}")
        _assign(lab.bias, bias.reshape(1), f"affine {i}")
    for i, (ln, (gamma, beta)) in enumerate(zip(groups["layernorm"], found["layernorm"], strict=True)):
        _assign(ln.weight, gamma, f"layernorm {i}")
        _assign(ln.bias, beta, f"layernorm {i}")
    for i, (fc, (weight, bias)) in enumerate(zip(groups["linear"], found["linear"], strict=True)):
        _assign(fc.weight, weight.T, f"linear {i}")  # ONNX MatMul holds (in, out)
        _assign(fc.bias, bias, f"linear {i}")
    return model


def pretrained_recognizer() -> TextRecognizer:
    """PP-OCRv4 recognizer with the weights shipped in rapidocr-onnxruntime, in eval mode."""
    return load_onnx_weights(TextRecognizer(RecognizerConfig())).eval()
