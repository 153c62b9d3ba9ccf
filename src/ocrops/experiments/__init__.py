"""Runs beyond the pipeline that compose its stages: the forgetting ablation (``ocrops ablate``) and the GPU
check (``ocrops gpu-check``)."""
