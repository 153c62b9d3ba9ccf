"""Bit-reproducible training: pinned CPU kernels and threads, seeds, deterministic algorithms, and the record of
what decides a model's bits besides data, params and code (kept with every training).

A training is reproduced bit for bit on the same kind of machine (same CPU family and model, same lock);
docs/how-to/reproducibility.md says what is pinned and why."""

from __future__ import annotations

import hashlib
import os
import random
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TypeVar

from ocrops.env import cpu_fields

# CPU kernels are chosen per instruction set at run time, and AVX-512 and AVX2 kernels add in different orders:
# the same training on two machines differs in its last bits and then drifts apart. A stage whose outputs must
# be reproducible pins the kernels to AVX2 (present on every x86-64 machine of the last decade) before torch
# loads. Measured on an AVX-512 machine: no slower, and a different model md5 than its native kernels give.
REPRODUCIBLE_KERNELS: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions)
    "MKL_CBWR": "AVX2,STRICT",  # MKL (matrix products): conditional numerical reproducibility
}
# what decides the model's bits besides data, params and code; recorded with every training
NUMERIC_PACKAGES = ("torch", "numpy", "albumentations", "opencv-python-headless", "pillow", "safetensors")
LOCK_FILE = Path("requirements-dev.lock")

T = TypeVar("T")


def pin_kernels(threads: int) -> dict[str, str]:
    """Pin CPU kernels and thread counts; returns what is in effect.

    Call before torch is imported (a user's own setting of these variables is kept and reported)."""
    for key, value in REPRODUCIBLE_KERNELS.items():
        os.environ.setdefault(key, value)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[key] = str(threads)
    return {key: os.environ[key] for key in (*REPRODUCIBLE_KERNELS, "OMP_NUM_THREADS")}


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def deterministic(train: Callable[[], T], threads: int) -> tuple[T, list[str]]:
    """Run ``train`` with PyTorch's deterministic algorithms where they exist; an op without one still runs and
    is named in the returned list (warn_only), so a run says what could make it unrepeatable."""
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train()
    flagged = set()
    for w in caught:
        if "deterministic" in str(w.message):
            flagged.add(str(w.message).split(" does not have")[0].strip())
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, sorted(flagged)


def numerics(nondeterministic: list[str]) -> dict:
    """Kernels, threads, library versions and the lock the model was trained with."""
    import torch

    versions = {}
    for name in NUMERIC_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "kernels": {k: os.environ.get(k) for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")},
        "versions": versions,
        "lock_sha256": hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest() if LOCK_FILE.exists() else None,
        "nondeterministic_ops": nondeterministic,
        "cuda": torch.cuda.is_available(),
    }


def cpu_model() -> str | None:
    """The CPU as Linux reports it: name, family/model/stepping and cache. A virtual machine often shows a generic
    name ("Intel(R) Xeon(R) Processor"); the model number and cache size still tell two machines apart."""
    fields = cpu_fields()
    if "model name" not in fields:
        return None
    return (f"{fields['model name']} ({fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} "
            f"model {fields.get('model', '?')} stepping {fields.get('stepping', '?')}, "
            f"cache {fields.get('cache size', '?')})")
