"""An answer of the service (or of ``ocrops predict``) as pages, lines and words with their geometry: what
every output format writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # clockwise from top-left, in the page's pixels

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Word:
    text: str
    quad: Quad


@dataclass(frozen=True)
class Line:
    text: str
    confidence: float
    quad: Quad

    @property
    def words(self) -> list[Word]:
        """The line's words, each on the share of the line its characters take: the recognizer reads a line
        whole, so a word's box is estimated from its characters' positions in the text, not measured."""
        n = max(len(self.text), 1)
        return [Word(m.group(), part(self.quad, m.start() / n, m.end() / n)) for m in _WORD.finditer(self.text)]


@dataclass(frozen=True)
class PageLayout:
    number: int  # from 1
    width: int
    height: int
    dpi: float | None
    lines: list[Line]
    rotation: int = 0  # degrees clockwise the page was turned to be read; width, height and boxes are upright


def part(quad: Quad, start: float, end: float) -> Quad:
    """The piece of a line's quad from ``start`` to ``end`` (fractions of its length), along its own direction."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad

    def along(a: Point, b: Point, t: float) -> Point:
        return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)

    return (along((x0, y0), (x1, y1), start), along((x0, y0), (x1, y1), end),
            along((x3, y3), (x2, y2), end), along((x3, y3), (x2, y2), start))


def bbox(quad: Quad) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), whole pixels enclosing the quad."""
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return int(min(xs)), int(min(ys)), int(-(-max(xs) // 1)), int(-(-max(ys) // 1))


def union(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) holding all of ``boxes``."""
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def pages_of(answer: dict[str, Any], width: int | None = None, height: int | None = None) -> list[PageLayout]:
    """The pages of one answer: a document's ``pages``, or the image itself (``width``/``height`` from the
    answer, else given)."""
    def lines(entries: list[dict]) -> list[Line]:
        return [Line(e["text"], float(e["confidence"]), tuple(tuple(map(float, p)) for p in e["box"]))
                for e in entries]

    if "pages" in answer:
        return [PageLayout(p["page"], p["width"], p["height"], p.get("dpi"), lines(p["lines"]), p.get("rotation") or 0)
                for p in answer["pages"]]
    return [PageLayout(1, answer.get("width", width), answer.get("height", height), None, lines(answer["lines"]),
                       answer.get("rotation") or 0)]
