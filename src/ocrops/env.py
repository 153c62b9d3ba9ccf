"""Process environment: telemetry and update checks off, offline model hubs."""

from __future__ import annotations

import os
from pathlib import Path

# Every tool ocrops drives, with the switch that keeps it from phoning home.
TELEMETRY_OFF: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "NO_ALBUMENTATIONS_UPDATE": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


# Output the user did not ask for: MLflow's progress bar per artifact moved (a hundred redraws on one line
# when a model is downloaded, e.g. by `ocrops batch` or `ocrops evaluate`).
QUIET_OUTPUT: dict[str, str] = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def quiet_telemetry() -> None:
    """Set the switches (telemetry and update checks off, no progress bars of other tools) unless the user chose
    otherwise; ``import ocrops`` does, so the ``ocrops`` command has them whoever starts it."""
    for key, value in (TELEMETRY_OFF | QUIET_OUTPUT).items():
        os.environ.setdefault(key, value)


# CPU kernels are chosen per instruction set at run time, and AVX-512 and AVX2 kernels add in different orders:
# the same training on two machines differs in its last bits and then drifts apart. A stage whose outputs must
# be reproducible pins the kernels to AVX2 (present on every x86-64 machine of the last decade) before torch
# loads. Measured on an AVX-512 machine: no slower, and a different model md5 than its native kernels give.
REPRODUCIBLE_KERNELS: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (convolutions)
    "MKL_CBWR": "AVX2,STRICT",  # MKL (matrix products): conditional numerical reproducibility
}


def pin_kernels(threads: int) -> dict[str, str]:
    """Pin CPU kernels and thread counts for bit-reproducible numerics; returns what is in effect.

    Call before torch is imported (a user's own setting of these variables is kept and reported)."""
    for key, value in REPRODUCIBLE_KERNELS.items():
        os.environ.setdefault(key, value)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[key] = str(threads)
    return {key: os.environ[key] for key in (*REPRODUCIBLE_KERNELS, "OMP_NUM_THREADS")}


def cpu_fields() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo ("model name", "cpu family", "model", "cache size", ...);
    empty where there is no such file."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields
