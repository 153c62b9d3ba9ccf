"""Loading released PP-OCR recognizer ONNX weights (v4, v5, v6) into our PyTorch networks.

The ONNX graphs keep their weights in Constant nodes (v4, v5) or initializers (v6). We collect them by role,
in graph order — convolutions (a bias in the conv or in the Add after it), batch norms, affine scalars, layer
norms, linear layers — and assign them to the PyTorch modules of the same role in execution order, checking
every shape. A re-parameterisable conv (PP-OCRv6) is one conv to the graph and takes the folded weights.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from ocrops.models.ppocr.modules import LearnableAffine
from ocrops.models.ppocr.network_v6 import RepDWConv


class WeightMappingError(RuntimeError):
    pass


def _onnx_weights(path: Path) -> dict[str, list[list[np.ndarray]]]:
    graph = onnx.load(str(path)).graph
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}
    consts.update({init.name: numpy_helper.to_array(init) for init in graph.initializer})
    for node in graph.node:  # fold constant reshapes (v5 reshapes its layer norms' gamma and beta)
        if node.op_type == "Reshape" and all(i in consts for i in node.input):
            consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
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
            weights = [w for w in ins[1:] if w is not None]
            if len(weights) == 1:  # a folded conv's bias may follow as Add of a (1, C, 1, 1) constant
                bias = follow_add(node)
                if bias is not None and bias.shape == (1, weights[0].shape[0], 1, 1):
                    weights.append(bias.reshape(-1))
            found["conv"].append(weights)
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


def _units(module: nn.Module, kind: tuple[type, ...]) -> list[nn.Module]:
    """Submodules of ``kind`` in registration (= execution) order; a RepDWConv is one unit, never entered."""
    found = []
    for child in module.children():
        if isinstance(child, kind):
            found.append(child)
        elif not isinstance(child, RepDWConv):
            found.extend(_units(child, kind))
    return found


def load_onnx_weights(model: nn.Module, path: Path) -> nn.Module:
    """Copy the ONNX recognizer's weights into ``model`` (whose config must match the graph)."""
    found = _onnx_weights(path)
    groups = {
        "conv": _units(model, (nn.Conv2d, RepDWConv)),
        "bn": _units(model, (nn.BatchNorm2d,)),
        "affine": [m for m in model.modules() if isinstance(m, LearnableAffine)],
        "layernorm": [m for m in model.modules() if isinstance(m, nn.LayerNorm)],
        "linear": [m for m in model.modules() if isinstance(m, nn.Linear)],
    }
    for role, modules in groups.items():
        if len(modules) != len(found[role]):
            raise WeightMappingError(f"{role}: graph has {len(found[role])}, model has {len(modules)}")
    for i, (conv, ws) in enumerate(zip(groups["conv"], found["conv"], strict=True)):
        if isinstance(conv, RepDWConv):
            if len(ws) != 2 or tuple(conv.conv.weight.shape) != ws[0].shape:
                raise WeightMappingError(f"conv {i}: a folded depthwise conv {tuple(conv.conv.weight.shape)} "
                                         f"expected, the graph has {[w.shape for w in ws]}")
            conv.load_folded(torch.from_numpy(np.array(ws[0])), torch.from_numpy(np.array(ws[1])))
            continue
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

