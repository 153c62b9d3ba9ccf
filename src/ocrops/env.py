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
