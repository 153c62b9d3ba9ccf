"""Export tools shared by the families' exporters (ONNX optimisation, int8) and parity of an exported engine
with the trained model. What a family exports is its own (ocrops.models.<family>.export)."""
