"""The ``validate`` stage: run the suite, write reports, fail loudly on leakage or too many rejects."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ocrops.config import Params
from ocrops.data.report import write_report
from ocrops.data.validation import validate_dataset
from ocrops.errors import PipelineError


def run_validate(
    params: Params,
    dataset: str | Path | None = None,
    reports_dir: str | Path = "reports",
    accepted_path: str | Path = "outputs/validate/accepted.jsonl",
    console: Console | None = None,
) -> dict:
    """Validate ``dataset`` (default ``params.data.path``); returns the figures written to validation.json."""
    console = console or Console(stderr=True, soft_wrap=True)
    report = validate_dataset(dataset or params.data.path, params)
    figures = write_report(report, reports_dir, accepted_path)
    console.print(
        f"validated {figures['rows']} rows: {figures['accepted']} accepted, {figures['rejected']} quarantined "
        f"({figures['rejected_share']:.2%}); splits {figures['splits']}"
    )
    if figures["reasons"]:
        console.print("quarantine reasons: " + ", ".join(f"{k} {v}" for k, v in figures["reasons"].items()))
    if figures["oov"]["chars"]:
        console.print(
            f"{figures['oov']['rows']} rows use {figures['oov']['distinct_chars']} characters outside the "
            f"{report.family} vocabulary: {figures['oov']['chars']}"
        )
    console.print(f"reports: {Path(reports_dir) / 'validation.html'}, {Path(reports_dir) / 'quarantine.jsonl'}")
    if not report.passed:
        raise PipelineError("validation failed: " + " | ".join(report.failures))
    return figures
