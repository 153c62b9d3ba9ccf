"""The ``validate`` stage: run the suite, write reports, fail loudly on leakage or too many rejects."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ocrops.config import Params
from ocrops.data.page_validation import validate_pages
from ocrops.data.pages import PAGES_FILE
from ocrops.data.report import write_report
from ocrops.data.validation import Vocabulary, validate_dataset
from ocrops.errors import PipelineError
from ocrops.stages.common import base_family


def run(params: Params, dataset: str | Path | None = None, console: Console | None = None) -> dict:
    """Validate ``dataset`` (default ``data.path``), the page dataset ``data.pages`` and the guard set
    ``data.guard`` against the vocabulary of the family ``train.base`` names; returns the figures written to the
    validation metrics."""
    console = console or Console(stderr=True, soft_wrap=True)
    family = base_family(params)
    vocabulary = Vocabulary(family.name, family.code().vocabulary())
    report = validate_dataset(dataset or params.data.path, params, vocabulary)
    page_root = Path(params.data.pages)
    pages = validate_pages(page_root, params, vocabulary) if (page_root / PAGES_FILE).exists() else None
    guard_root = Path(params.data.guard)
    guard = validate_dataset(guard_root, params, vocabulary) if (guard_root / "labels.jsonl").exists() else None
    paths = params.paths.validate_
    figures = write_report(report, paths, pages, guard)
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
    p = figures["pages"]
    if "skipped" in p:
        console.print(f"pages: {p['skipped']}")
    else:
        console.print(f"validated {p['rows']} pages: {p['accepted']} accepted ({p['lines']} lines), "
                      f"{p['rejected']} quarantined; splits {p['splits']}"
                      + (f"; reasons {p['reasons']}" if p["reasons"] else ""))
    g = figures["guard"]
    console.print(f"guard: {g['skipped']}" if "skipped" in g else
                  f"validated {g['rows']} guard lines: {g['accepted']} accepted, {g['rejected']} quarantined; "
                  f"splits {g['splits']}; test lines by source {g['sources']}")
    console.print(f"reports: {paths.report}, {paths.quarantine}, {paths.page_report}, {paths.page_quarantine}, "
                  f"{paths.guard_quarantine}")
    failures = (report.failures + [f"pages: {failure}" for failure in (pages[0].failures if pages else [])]
                + [f"guard: {failure}" for failure in (guard.failures if guard else [])])
    if failures:
        raise PipelineError("validation failed: " + " | ".join(failures))
    return figures


def summary(figures: dict) -> list[str]:
    return []  # run() has printed the figures already (also when it refuses)
