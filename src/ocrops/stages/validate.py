"""The ``validate`` stage: run the suite, write reports, fail loudly on leakage or too many rejects."""

from __future__ import annotations

from pathlib import Path

from ocrops.config import Params
from ocrops.data.contract import LABELS_FILE
from ocrops.data.files import write_headline
from ocrops.data.page_validation import validate_pages
from ocrops.data.pages import PAGES_FILE
from ocrops.data.report import write_report
from ocrops.data.validation import Vocabulary, validate_dataset
from ocrops.errors import PipelineError
from ocrops.training.base import resolve_base

HEADLINE = {"rows_accepted": "accepted", "rows_quarantined": "rejected"}


def run(params: Params) -> dict:
    """Validate ``data.path``, the page dataset ``data.pages`` and the guard set ``data.guard`` against the
    vocabulary of the family ``train.base`` names; returns the figures written to the validation metrics (a
    refusal raises PipelineError carrying them)."""
    base = resolve_base(params)
    vocabulary = Vocabulary(base.family.name, base.vocabulary())
    report = validate_dataset(params.data.path, params, vocabulary)
    page_root = Path(params.data.pages)
    pages = validate_pages(page_root, params, vocabulary) if (page_root / PAGES_FILE).exists() else None
    guard_root = Path(params.data.guard)
    guard = validate_dataset(guard_root, params, vocabulary) if (guard_root / LABELS_FILE).exists() else None
    figures = write_report(report, params.paths.validate_, pages, guard)
    write_headline(params.paths.validate_.headline, figures, HEADLINE)
    failures = (report.failures + [f"pages: {failure}" for failure in (pages[0].failures if pages else [])]
                + [f"guard: {failure}" for failure in (guard.failures if guard else [])])
    if failures:
        raise PipelineError("validation failed: " + " | ".join(failures), report=figures)
    return figures


def summary(figures: dict) -> list[str]:
    lines = [f"validated {figures['rows']} rows: {figures['accepted']} accepted, {figures['rejected']} quarantined "
             f"({figures['rejected_share']:.2%}); splits {figures['splits']}"]
    if figures["reasons"]:
        lines.append("quarantine reasons: " + ", ".join(f"{k} {v}" for k, v in figures["reasons"].items()))
    oov = figures["oov"]
    if oov["chars"]:
        lines.append(f"{oov['rows']} rows use {oov['distinct_chars']} characters outside the {oov['family']} "
                     f"vocabulary: {oov['chars']}")
    p = figures["pages"]
    lines.append(f"pages: {p['skipped']}" if "skipped" in p else
                 f"validated {p['rows']} pages: {p['accepted']} accepted ({p['lines']} lines), "
                 f"{p['rejected']} quarantined; splits {p['splits']}"
                 + (f"; reasons {p['reasons']}" if p["reasons"] else ""))
    g = figures["guard"]
    lines.append(f"guard: {g['skipped']}" if "skipped" in g else
                 f"validated {g['rows']} guard lines: {g['accepted']} accepted, {g['rejected']} quarantined; "
                 f"splits {g['splits']}; test lines by source {g['sources']}")
    return lines
