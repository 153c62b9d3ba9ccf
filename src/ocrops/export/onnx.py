"""ONNX graph tools for family exporters: offline ONNX Runtime graph optimisation, int8 dynamic quantisation."""

from __future__ import annotations

from pathlib import Path


def optimize(src: Path, dst: Path, level: str = "extended") -> Path:
    """Run ONNX Runtime's graph optimiser once and save the result, so sessions start fast.

    "extended" fusions are portable across CPUs; "all" adds layout changes tied to this machine's CPU.
    """
    import onnxruntime as ort

    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[level]
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])
    return dst


def quantize_int8(src: Path, dst: Path, op_types: list[str] | None = None, per_channel: bool = True) -> Path:
    """Dynamic int8 quantisation of the weights (activations quantised at run time; no calibration data).

    ``op_types`` limits what is quantised (e.g. ["MatMul"]); None lets ONNX Runtime choose.
    """
    from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic

    prepared = dst.with_name(dst.stem + ".prep.onnx")
    quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
    try:
        quantize_dynamic(str(prepared), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=op_types,
                         per_channel=per_channel)
    finally:
        prepared.unlink(missing_ok=True)
    return dst
