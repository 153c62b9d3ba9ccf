"""The CPU's fp32 GEMM roof, measured where the engines run, and an engine's speed as a share of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# kernel pins a training process sets (ocrops.training.reproducibility) or a user may have: the roof is what
# the machine's own best kernels reach, so the probe runs without them
_PINS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "OPENBLAS_CORETYPE", "MKL_ENABLE_INSTRUCTIONS")

_PROBE = """
import json, sys, time
import numpy as np
n, threads = int(sys.argv[1]), sys.argv[2]
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
best = 0.0
for _ in range(7):
    started = time.perf_counter()
    a @ b
    best = max(best, 2 * n ** 3 / (time.perf_counter() - started) / 1e9)
print(json.dumps({"gflops": best, "n": n, "threads": threads}))
"""


def gemm_peak_gflops(threads: int | None = None, n: int = 2048) -> dict:
    """Best fp32 GEMM GFLOP/s of numpy on ``threads`` cores (default: all), in a fresh process without kernel
    pins: {"gflops", "n", "threads"}."""
    threads = threads or os.cpu_count() or 1
    env = {k: v for k, v in os.environ.items() if k not in _PINS}
    env.update({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    out = subprocess.run([sys.executable, "-c", _PROBE, str(n), str(threads)], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def flops_per_line(network, widths: list[int], height: int = 48) -> float:
    """Mean FLOPs of one forward pass per line, over lines of these (padded) widths (torch's FLOP counter:
    convolutions and matrix products)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    total = 0
    with torch.no_grad():
        for width in sorted(set(widths)):
            counter = FlopCounterMode(display=False)
            with counter:
                network(torch.zeros(1, 3, height, width))
            total += counter.get_total_flops() * widths.count(width)
    return total / max(1, len(widths))
