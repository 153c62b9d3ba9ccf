"""Process environment: telemetry and update checks off, offline model hubs."""

from __future__ import annotations

import os

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


def quiet_telemetry() -> None:
    """Set the switches unless the user chose otherwise."""
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
