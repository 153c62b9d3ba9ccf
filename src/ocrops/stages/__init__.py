"""The dvc stages as library code: each module has ``run(params) -> report`` (reads and writes the files
``params.paths`` names) and ``summary(report) -> lines``. ``ocrops stage NAME`` (what dvc.yaml calls) and
``python -m ocrops.stages NAME`` (for accelerate / torchrun) run one through :func:`main`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

# in pipeline order (dvc.yaml); docs/architecture.md says where a new one goes
STAGES = ("validate", "general", "train", "evaluate", "register", "export", "benchmark", "package", "loadtest")
# stages whose outputs are reproduced bit for bit: their CPU kernels and threads are pinned (ocrops.env)
REPRODUCIBLE = ("train",)


def main(name: str, params_path: str | Path = "params.yaml") -> int:
    """Run one stage; a refusal (a bad input, a failed check) prints one line with its code and returns 1."""
    from ocrops.config import load_params
    from ocrops.errors import OcropsError, PipelineError
    from ocrops.families import check_sections

    if name not in STAGES:
        print(f"unknown stage {name!r}; stages: {', '.join(STAGES)}", file=sys.stderr)
        return 2
    try:
        params = load_params(params_path)
        check_sections(params)  # a family's own section of params.yaml, validated by its family
        if name in REPRODUCIBLE:
            from ocrops.training.reproducibility import pin_kernels

            pin_kernels(params.train.threads)  # before the stage imports torch
        stage = importlib.import_module(f"ocrops.stages.{name}")
        report = stage.run(params)
    except PipelineError as exc:
        _print_summary(name, stage, exc.report)  # what was measured before the refusal
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except OcropsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    _print_summary(name, stage, report)
    return 0


def _print_summary(name: str, stage, report: dict | None) -> None:
    for line in stage.summary(report) if report is not None else ():
        print(f"{name}: {line}", flush=True)
