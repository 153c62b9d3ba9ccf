"""Page dataset validation: the line dataset's suite (image, label, split, duplicate and leakage rules) over one
manifest record per ``pages.jsonl`` row, plus the page rules (labelled lines, polygons inside the page).

Polygons are judged in the upright frame (after the EXIF orientation), the frame the labels are in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import great_expectations.expectations as gxe
from tqdm import tqdm

from ocrops.config import Params
from ocrops.data.contract import BadLine
from ocrops.data.images import ImageLimits
from ocrops.data.manifest import ManifestRecord, mark_duplicates, measure_image, measure_text
from ocrops.data.pages import PAGES_FILE, PageRow, read_pages
from ocrops.data.validation import Rule, ValidationReport, Vocabulary, build_rules, judge
from ocrops.errors import ErrorCode, OcropsError

# a labelled corner may sit this far outside the page (rounding, a box drawn on the border)
EDGE_SLACK = 2.0


@dataclass
class PageRecord(ManifestRecord):
    lines: int | None = None
    empty_lines: int | None = None
    outside_lines: int | None = None
    ignore_regions: int | None = None
    upright: str | None = None  # "WxH" after the EXIF orientation


def page_rules(params: Params, vocabulary: Vocabulary) -> list[Rule]:
    """The line suite's rules that apply to a page, and the page's own."""
    shared = {rule.name: rule for rule in build_rules(params, vocabulary)}
    shared["label_unreadable"] = dataclasses.replace(
        shared["label_unreadable"], description=f"{PAGES_FILE} line is UTF-8 JSON with image and lines")
    del shared["label_empty"]  # a page's text is judged line by line below
    # a page is mostly paper: its mean brightness says nothing of blankness (labelled lines do); only a black
    # frame is refused
    floor = params.validate_.min_brightness
    shared["brightness_out_of_range"] = dataclasses.replace(
        shared["brightness_out_of_range"], description=f"mean brightness >= {floor:g}",
        expectation=gxe.ExpectColumnValuesToBeBetween(column="brightness", min_value=floor))
    return [
        *shared.values(),
        Rule("page_no_lines", "quarantine", "page has at least one labelled line",
             gxe.ExpectColumnValuesToBeBetween(column="lines", min_value=1),
             ErrorCode.INVALID_INPUT, lambda r: "no labelled lines"),
        Rule("page_line_empty", "quarantine", "every labelled line has visible text",
             gxe.ExpectColumnValuesToBeBetween(column="empty_lines", min_value=0, max_value=0),
             ErrorCode.INVALID_INPUT, lambda r: f"{r['empty_lines']:.0f} lines with empty text"),
        Rule("page_polygon_outside", "quarantine", "line polygons lie inside the upright page",
             gxe.ExpectColumnValuesToBeBetween(column="outside_lines", min_value=0, max_value=0),
             ErrorCode.INVALID_INPUT,
             lambda r: f"{r['outside_lines']:.0f} line polygons outside the {r['upright']} page "
                       "(labels are in the frame after the EXIF orientation)"),
    ]


def build_page_manifest(dataset: str | Path, limits: ImageLimits = ImageLimits(),
                        vocabulary: frozenset[str] | None = None, params: Params | None = None,
                        progress: bool = True) -> tuple[list[PageRecord], dict[int, PageRow]]:
    """Measure every row of a page dataset; returns the records and the readable rows by their line."""
    dataset = Path(dataset)
    if not (dataset / PAGES_FILE).exists():
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{dataset}/{PAGES_FILE} not found: not a page dataset directory")
    ratios = (params or Params()).data.split
    rows, bad = read_pages(dataset)
    items: list[PageRow | BadLine] = sorted([*rows, *bad], key=lambda item: item.line)
    records = []
    for row_id, item in enumerate(tqdm(items, desc="inspect pages", unit="page", disable=not progress)):
        if isinstance(item, BadLine):
            records.append(PageRecord(row_id=row_id, line=item.line, text=item.raw, label_ok=False,
                                             label_error=item.reason, label_detail=item.detail))
            continue
        rec = PageRecord(row_id=row_id, line=item.line, image=item.image, text=item.text,
                                lines=len(item.lines), ignore_regions=len(item.ignore),
                                empty_lines=sum(1 for line in item.lines if not line.text.strip()))
        measure_text(rec, " ".join(line.text for line in item.lines), vocabulary)
        upright = measure_image(rec, dataset, item.image, item.split, limits, ratios)
        if upright is not None:
            w, h = upright.size
            rec.upright = f"{w}x{h}"
            rec.outside_lines = sum(
                1 for line in item.lines
                if any(x < -EDGE_SLACK or y < -EDGE_SLACK or x > w - 1 + EDGE_SLACK or y > h - 1 + EDGE_SLACK
                       for x, y in line.points))
        records.append(rec)
    mark_duplicates(records)
    return records, {row.line: row for row in rows}


def validate_pages(dataset: str | Path, params: Params, vocabulary: Vocabulary,
                   progress: bool = True) -> tuple[ValidationReport, dict[int, PageRow]]:
    """Measure a page dataset, run the page suite; the report and the readable rows by line."""
    v = params.validate_
    limits = ImageLimits(max_side=v.max_input_side, max_pixels=v.max_pixels)
    records, rows = build_page_manifest(dataset, limits, vocabulary.chars, params, progress)
    return judge(str(dataset), records, page_rules(params, vocabulary), params, vocabulary, PAGES_FILE), rows


def accepted_pages(report: ValidationReport, rows: dict[int, PageRow]) -> list[dict]:
    """Accepted pages as later stages read them: the page row with its split, path and image facts."""
    root = Path(report.dataset)
    return [rows[rec.line].to_json() | {"split": rec.split, "path": (root / rec.image).as_posix(),
                                        "sha256": rec.sha256, "size": rec.upright}
            for rec in report.accepted]
