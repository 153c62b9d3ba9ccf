"""Writing a validation report: metrics JSON, HTML page, quarantine and accepted rows."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from ocrops.config import ValidatePaths
from ocrops.data.contract import read_labels
from ocrops.data.files import write_jsonl
from ocrops.data.page_validation import accepted_pages
from ocrops.data.pages import PageRow
from ocrops.data.validation import ValidationReport


def summary(report: ValidationReport) -> dict:
    """Figures for ``dvc metrics show``: counts, shares, reasons, vocabulary gaps."""
    reasons: dict[str, int] = {}
    for entry in report.quarantine:
        reasons[entry["reason"]] = reasons.get(entry["reason"], 0) + 1
    leak = next((c for c in report.checks if c.rule == "split_leakage"), None)
    dups = next((c for c in report.checks if c.rule == "duplicate_image"), None)
    return {
        "passed": report.passed,
        "rows": len(report.records),
        "accepted": len(report.accepted),
        "rejected": len(report.quarantine),
        "rejected_share": round(report.rejected_share, 6),
        "splits": report.split_sizes,
        "reasons": dict(sorted(reasons.items())),
        "duplicates": dups.unexpected if dups else 0,
        "leaked_rows": leak.unexpected if leak else 0,
        "oov": {
            "family": report.family,
            "rows": sum(1 for r in report.accepted if r.oov_count),
            "distinct_chars": len(report.oov),
            "chars": "".join(ch for ch, _ in report.oov.most_common()),
        },
        "failures": report.failures,
    }


def accepted_rows(report: ValidationReport) -> list[dict]:
    """Rows later stages read: path relative to the project, split, text and image facts."""
    root = Path(report.dataset)
    return [
        {
            "image": rec.image,
            "path": (root / rec.image).as_posix(),
            "text": rec.text,
            "split": rec.split,
            "sha256": rec.sha256,
            "width": rec.width,
            "height": rec.height,
            "mode": rec.mode,
            "line": rec.line,
        }
        for rec in report.accepted
    ]


def render_html(report: ValidationReport, figures: dict) -> str:
    env = Environment(loader=PackageLoader("ocrops", "templates"), autoescape=select_autoescape())
    env.filters["codepoint"] = lambda ch: f"U+{ord(ch):04X}"
    return env.get_template("validation.html.j2").render(
        report=report, figures=figures, checks=[asdict(c) for c in report.checks]
    )


def write_page_report(report: ValidationReport, rows: dict[int, PageRow], paths: ValidatePaths) -> dict:
    """Write the page dataset's HTML page, quarantine and accepted pages; returns its figures."""
    for path in (paths.page_report, paths.page_quarantine, paths.pages):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    figures = summary(report)
    Path(paths.page_report).write_text(render_html(report, figures), encoding="utf-8")
    write_jsonl(paths.page_quarantine, report.quarantine)
    write_jsonl(paths.pages, accepted_pages(report, rows))
    figures["lines"] = sum(len(rows[rec.line].lines) for rec in report.accepted)
    return figures


def write_guard_report(report: ValidationReport | None, paths: ValidatePaths) -> dict:
    """Write the guard set's quarantine and accepted rows (with each row's source and licence); its figures."""
    for path in (paths.guard, paths.guard_quarantine):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if report is None:
        write_jsonl(paths.guard_quarantine, [])
        write_jsonl(paths.guard, [])
        return {"skipped": "no guard set (data.guard holds no labels.jsonl): guard figures are skipped"}
    provenance = {row.line: row.extra for row in read_labels(report.dataset)[0]}
    rows = [row | provenance.get(row["line"], {}) for row in accepted_rows(report)]
    write_jsonl(paths.guard_quarantine, report.quarantine)
    write_jsonl(paths.guard, rows)
    figures = summary(report)
    figures["sources"] = dict(Counter(str(row.get("source", "unknown")) for row in rows if row["split"] == "test"))
    return figures


def write_report(report: ValidationReport, paths: ValidatePaths,
                 pages: tuple[ValidationReport, dict[int, PageRow]] | None = None,
                 guard: ValidationReport | None = None) -> dict:
    """Write the metrics (validation.json), the HTML page, the quarantine and the accepted rows; with
    ``pages`` (the page dataset's report and rows) its files too, its figures under "pages"; the guard set's
    under "guard"."""
    for path in (paths.metrics, paths.report, paths.quarantine, paths.accepted):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    figures = summary(report)
    Path(paths.report).write_text(render_html(report, figures), encoding="utf-8")
    write_jsonl(paths.quarantine, report.quarantine)
    # each row's provenance travels with it (a reviewed line's source, model version, annotator), under the facts
    # validation measured
    provenance = {row.line: row.extra for row in read_labels(report.dataset)[0]}
    write_jsonl(paths.accepted, [provenance.get(row["line"], {}) | row for row in accepted_rows(report)])
    if pages is not None:
        figures["pages"] = write_page_report(*pages, paths)
    else:  # later stages find an empty page set and skip their page figures
        for path in (paths.page_report, paths.page_quarantine, paths.pages):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(paths.page_quarantine, [])
        write_jsonl(paths.pages, [])
        figures["pages"] = {"skipped": "no page dataset (data.pages holds no pages.jsonl): page figures are skipped"}
        Path(paths.page_report).write_text(f"<!doctype html><title>ocrops page validation</title><p>"
                                           f"{figures['pages']['skipped']}</p>\n", encoding="utf-8")
    figures["guard"] = write_guard_report(guard, paths)
    Path(paths.metrics).write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return figures
