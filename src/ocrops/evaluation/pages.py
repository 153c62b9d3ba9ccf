"""Measuring whole pages: a reader (detector + recognizer) over labelled pages -> detection, page CER, order,
per-page latency; the same lines cropped from their labels (what recognition alone reaches); page mode vs line
mode on line images; and pages/s of two page readers side by side (ours vs RapidOCR).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ocrops.data.files import read_jsonl
from ocrops.data.images import load_rgb
from ocrops.evaluation.bench import closed_loop, latency_summary
from ocrops.evaluation.metrics import cer
from ocrops.evaluation.metrics.pages import PageMatch, page_scores
from ocrops.inference.detection import crop_quad
from ocrops.inference.pages import PageReader, widen
from ocrops.inference.types import Prediction

Polygon = list[list[float]]
Lines = list[tuple[str, Polygon]]  # (text, polygon) in reading order
Recognize = Callable[[list[Image.Image]], list[Prediction]]


@dataclass
class LabelledPage:
    name: str
    image: Image.Image
    capture: str  # "scan" | "photo" | "" (unknown)
    truth: Lines
    ignore: list[Polygon]


def page_rows(accepted: str | Path, split: str) -> list[dict]:
    """The validated page rows of one split (the validate stage's pages.jsonl); none without the file."""
    return [row for row in read_jsonl(accepted, missing_ok=True) if row["split"] == split]


def labelled_pages(accepted: str | Path, split: str) -> list[LabelledPage]:
    """The validated pages of one split, decoded upright; none without the file."""
    return [LabelledPage(row["image"], load_rgb(row["path"]), row.get("capture", ""),
                         [(item["text"], item["points"]) for item in row["lines"]], row.get("ignore", []))
            for row in page_rows(accepted, split)]


def run_reader(pages: Sequence[LabelledPage], reader: PageReader, recognize: Recognize
               ) -> tuple[list[Lines], list[float]]:
    """What the reader finds on each page ((raw text, box) in its reading order) and each page's seconds."""
    found, seconds = [], []
    reader.read([pages[0].image], recognize, mode="page")  # warm-up: first-call allocations are not a page's
    for page in pages:
        started = time.perf_counter()
        result = reader.read([page.image], recognize, mode="page")[0]
        seconds.append(time.perf_counter() - started)
        found.append([(line["raw_text"], line["box"]) for line in result["lines"]])
    return found, seconds


def labelled_line_cer(pages: Sequence[LabelledPage], recognize: Recognize, margin: float) -> float:
    """CER of the labelled lines cropped from their own polygons (with the reader's margin): the page's lines
    as recognition alone reads them, the reference a page reading is held to."""
    crops, refs = [], []
    for page in pages:
        w, h = page.image.size
        for text, points in page.truth:
            crops.append(crop_quad(page.image, widen(np.asarray(points, np.float32), margin, w, h)))
            refs.append(text)
    return cer([p.text for p in recognize(crops)], refs) if crops else 0.0


def evaluate_pages(pages: Sequence[LabelledPage], reader: PageReader, recognize: Recognize
                   ) -> tuple[dict, list[Lines], list[PageMatch]]:
    """Page figures for one reader: detection P/R/F1 at IoU 0.5, page CER in reading order, the same lines'
    CER cropped from their labels, order accuracy, lines per page, per-page latency; by capture too."""
    found, seconds = run_reader(pages, reader, recognize)
    scores, matches = page_scores([p.truth for p in pages], found, [p.ignore for p in pages])
    figures = scores.as_dict() | {
        "labelled_line_cer": labelled_line_cer(pages, recognize, reader.margin),
        "lines_per_page": scores.lines / max(1, scores.pages),
        "detected_per_page": scores.detected / max(1, scores.pages),
        "pages_per_s": len(pages) / max(sum(seconds), 1e-9),
        "latency": latency_summary(seconds),
    }
    figures["page_cer_minus_line_cer_points"] = 100 * (figures["page_cer"] - figures["labelled_line_cer"])
    by_capture = {}
    for capture in sorted({p.capture for p in pages}):
        picked = [i for i, p in enumerate(pages) if p.capture == capture]
        part, _ = page_scores([pages[i].truth for i in picked], [found[i] for i in picked],
                              [pages[i].ignore for i in picked])
        by_capture[capture or "unknown"] = {"pages": part.pages, "f1": part.f1, "page_cer": part.page_cer}
    figures["by_capture"] = by_capture
    return figures, found, matches


def page_vs_line(images: Sequence[Image.Image], reader: PageReader, recognize: Recognize) -> dict:
    """Line images read in page mode (detection first) and in line mode: the share read as the same text."""
    as_lines = reader.read(list(images), recognize, mode="line")
    as_pages = [reader.read([image], recognize, mode="page")[0] for image in images]
    same = sum(a["text"] == b["text"] for a, b in zip(as_lines, as_pages, strict=True))
    return {"lines": len(images), "same_text": same, "same_text_share": same / max(1, len(images))}


def pages_per_second(read: Callable[[Any], object], images: Sequence[Any],
                     concurrency: Sequence[int] = (1, 4), rounds: int = 1) -> dict[int, dict]:
    """Pages/s and per-page p50/p99 of ``read`` at each number of concurrent callers (closed loop; the callers
    share the pages, each page read ``rounds`` times). A page is whatever ``read`` takes: an image, or the
    payload of an HTTP request."""
    results = {}
    for clients in concurrency:
        per_client = max(1, rounds * len(images) // clients)
        point = closed_loop(lambda i: read(images[i % len(images)]), clients, per_client)
        results[clients] = {"pages": point["ok"], "errors": point["errors"], "pages_per_s": point["requests_per_s"],
                            "p50_ms": point["p50_ms"], "p99_ms": point["p99_ms"]}
    return results


def compare_page_readers(pages: Sequence[LabelledPage], readers: dict[str, Callable[[Image.Image], Lines]],
                         concurrency: Sequence[int] = (1, 4)) -> dict:
    """Page readers side by side on the same pages, in one run: page scores, and pages/s with per-page
    p50/p99 at each concurrency (the readers take turns at each point)."""
    images = [p.image for p in pages]
    report: dict = {"pages": len(pages), "readers": {}}
    for name, read in readers.items():
        found = [read(image) for image in images]  # also the warm-up
        scores, _ = page_scores([p.truth for p in pages], found, [p.ignore for p in pages])
        report["readers"][name] = {"scores": scores.as_dict(), "speed": {}}
    for clients in concurrency:
        for name, read in readers.items():
            report["readers"][name]["speed"][clients] = pages_per_second(read, images, [clients])[clients]
    return report
