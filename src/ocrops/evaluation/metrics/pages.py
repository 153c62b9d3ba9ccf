"""Page scores: detection precision / recall / F1 at IoU >= 0.5 (one-to-one matching, ICDAR-style "don't
care" regions), end-to-end CER of the page text in reading order, and reading-order accuracy.

A detection that lies mostly inside an ignore region (a stamp, a pen mark) counts neither way. A ground-truth
line covered by two detections is a *split*; a detection covering two ground-truth lines is a *merge*; both
are listed so a gallery can mark them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from ocrops.evaluation.metrics import cer

IOU_THRESHOLD = 0.5
Polygon = Sequence[Sequence[float]]


def _convex(points: Polygon) -> np.ndarray:
    hull = cv2.convexHull(np.asarray(points, np.float32).reshape(-1, 1, 2))
    return hull.reshape(-1, 2)


def area(points: Polygon) -> float:
    return float(cv2.contourArea(_convex(points)))


def intersection(a: Polygon, b: Polygon) -> float:
    """Area shared by two convex polygons (line quads are convex)."""
    shared, _ = cv2.intersectConvexConvex(_convex(a), _convex(b))
    return float(shared)


def iou(a: Polygon, b: Polygon) -> float:
    inter = intersection(a, b)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class PageMatch:
    """How one page's detections met its ground truth."""

    pairs: list[tuple[int, int]]  # (ground-truth index, detection index), IoU >= threshold
    missed: list[int]  # ground-truth lines no detection matched
    false: list[int]  # detections matching nothing (outside ignore regions)
    ignored: list[int]  # detections inside ignore regions
    split: list[int] = field(default_factory=list)  # ground-truth lines with 2+ detections mostly inside them
    merged: list[int] = field(default_factory=list)  # detections holding 2+ ground-truth lines

    @property
    def counts(self) -> dict[str, int]:
        return {"true": len(self.pairs), "missed": len(self.missed), "false": len(self.false)}


def match(truth: Sequence[Polygon], found: Sequence[Polygon], ignore: Sequence[Polygon] = (),
          threshold: float = IOU_THRESHOLD) -> PageMatch:
    """One-to-one matching of detections to ground-truth lines by IoU; a detection that matches no line and
    lies mostly inside an ignore region is ignored (a labelled line next to a stamp still counts)."""
    scores = np.zeros((len(truth), len(found)))
    for i, t in enumerate(truth):
        for j, d in enumerate(found):
            scores[i, j] = iou(t, d)
    # greedy by IoU: above 0.5 a detection overlaps at most one of two disjoint lines that much, so this is
    # the optimal one-to-one matching in practice (the ICDAR IoU protocol does the same)
    pairs, matched_t, matched_d = [], set(), set()
    for i, j in sorted(zip(*np.nonzero(scores >= threshold), strict=True), key=lambda ij: -scores[ij]):
        if i not in matched_t and j not in matched_d:
            pairs.append((int(i), int(j)))
            matched_t.add(i)
            matched_d.add(j)
    ignored = [j for j in range(len(found)) if j not in matched_d
               and any(intersection(found[j], region) > 0.5 * max(area(found[j]), 1e-6) for region in ignore)]
    candidates = [j for j in range(len(found)) if j not in set(ignored)]
    result = PageMatch(pairs=sorted(pairs), missed=[i for i in range(len(truth)) if i not in matched_t],
                       false=[j for j in candidates if j not in matched_d], ignored=ignored)
    # why a line was missed: two detections inside it (split), or one detection over it and another (merged)
    for i in result.missed:
        inside = [j for j in candidates if intersection(found[j], truth[i]) > 0.5 * max(area(found[j]), 1e-6)]
        if len(inside) >= 2:
            result.split.append(i)
    for j in result.false:
        holds = [i for i in range(len(truth)) if intersection(found[j], truth[i]) > 0.5 * max(area(truth[i]), 1e-6)]
        if len(holds) >= 2:
            result.merged.append(j)
    return result


def order_accuracy(pairs: Sequence[tuple[int, int]]) -> float | None:
    """Share of consecutive matched ground-truth lines whose detections come in the same order (1.0 = the page
    reads in the labelled order); None with fewer than two matches."""
    if len(pairs) < 2:
        return None
    by_truth = sorted(pairs)
    kept = sum(1 for (_, a), (_, b) in zip(by_truth, by_truth[1:], strict=False) if a < b)
    return kept / (len(by_truth) - 1)


@dataclass
class PageScores:
    pages: int
    lines: int
    detected: int
    precision: float
    recall: float
    f1: float
    page_cer: float  # the page's text (lines joined in reading order) against the labelled text
    matched_line_cer: float  # matched lines only, each against its own label: recognition, not layout
    order_accuracy: float
    split_lines: int
    merged_detections: int

    def as_dict(self) -> dict:
        return asdict(self)


def prf(true: int, missed: int, false: int) -> tuple[float, float, float]:
    precision = true / (true + false) if true + false else 0.0
    recall = true / (true + missed) if true + missed else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def page_scores(truths: Sequence[Sequence[tuple[str, Polygon]]], readings: Sequence[Sequence[tuple[str, Polygon]]],
                ignores: Sequence[Sequence[Polygon]] = ()) -> tuple[PageScores, list[PageMatch]]:
    """Scores over pages; each page is its labelled (text, polygon) lines in reading order and what was read
    ((text, polygon) in the reader's order)."""
    ignores = list(ignores) or [[] for _ in truths]
    matches, true, missed, false = [], 0, 0, 0
    page_predictions, page_references, line_predictions, line_references, orders = [], [], [], [], []
    for truth, read, ignore in zip(truths, readings, ignores, strict=True):
        m = match([p for _, p in truth], [p for _, p in read], ignore)
        matches.append(m)
        counts = m.counts
        true, missed, false = true + counts["true"], missed + counts["missed"], false + counts["false"]
        ignored = set(m.ignored)
        page_predictions.append("\n".join(text for k, (text, _) in enumerate(read) if k not in ignored))
        page_references.append("\n".join(text for text, _ in truth))
        line_predictions += [read[j][0] for _, j in m.pairs]
        line_references += [truth[i][0] for i, _ in m.pairs]
        if (order := order_accuracy(m.pairs)) is not None:
            orders.append(order)
    precision, recall, f1 = prf(true, missed, false)
    return PageScores(
        pages=len(truths), lines=true + missed, detected=true + false, precision=precision, recall=recall, f1=f1,
        page_cer=cer(page_predictions, page_references) if page_references else 0.0,
        matched_line_cer=cer(line_predictions, line_references) if line_references else 0.0,
        order_accuracy=float(np.mean(orders)) if orders else 0.0,
        split_lines=sum(len(m.split) for m in matches), merged_detections=sum(len(m.merged) for m in matches),
    ), matches
