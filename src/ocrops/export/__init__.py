"""Export of trained models: ONNX (+ ONNX Runtime graph optimisation, int8), parity, TensorRT engines."""
