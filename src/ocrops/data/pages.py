"""The page dataset contract: ``pages.jsonl`` + ``images/``.

One row per page image::

    {"image": "images/p000001.jpg", "split": "test",
     "lines": [{"text": "姓名: 王芳", "points": [[x, y], [x, y], [x, y], [x, y]]}, ...],
     "ignore": [[[x, y], ...]]}

``lines`` are in reading order; ``points`` is the line's polygon (at least four corners, clockwise from the
top-left) in the pixels of the upright page, i.e. after its EXIF orientation is applied, which is the frame
the service answers in. ``ignore`` lists regions with text nobody labelled (stamps, handwritten marks): a
detection there is neither right nor wrong. Reading is defensive like the line contract: a row that cannot
be read becomes a :class:`~ocrops.data.contract.BadLine` with its reason, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ocrops.config import SPLITS
from ocrops.data.contract import BadLine, Reject, read_records
from ocrops.data.files import write_jsonl

PAGES_FILE = "pages.jsonl"

Polygon = list[list[float]]


@dataclass(frozen=True)
class PageLine:
    text: str
    points: Polygon


@dataclass(frozen=True)
class PageRow:
    """One labeled page; ``line`` is its 1-based line in pages.jsonl."""

    image: str
    lines: list[PageLine]
    split: str | None = None
    ignore: list[Polygon] = field(default_factory=list)
    line: int = field(default=0, compare=False)
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        """The page's text in reading order, one line per line."""
        return "\n".join(line.text for line in self.lines)

    def to_json(self) -> dict:
        record: dict = {"image": self.image}
        if self.split is not None:
            record["split"] = self.split
        record["lines"] = [{"text": line.text, "points": _rounded(line.points)} for line in self.lines]
        if self.ignore:
            record["ignore"] = [_rounded(p) for p in self.ignore]
        record.update(self.extra)
        return record


def _rounded(points: Polygon) -> Polygon:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in points]


def box_polygon(box: list[float]) -> Polygon:
    """[x1, y1, x2, y2] -> its four corners, clockwise from the top-left."""
    x1, y1, x2, y2 = box
    return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]


def parse_polygon(value: object) -> Polygon | None:
    """``points`` ([[x, y], ...], at least 4) or a ``box`` ([x1, y1, x2, y2]) -> a polygon; None when neither."""
    if isinstance(value, list) and len(value) == 4 and all(isinstance(v, int | float) for v in value):
        x1, y1, x2, y2 = value
        return box_polygon([x1, y1, x2, y2]) if x2 > x1 and y2 > y1 else None
    if (isinstance(value, list) and len(value) >= 4
            and all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, int | float) for v in p)
                    for p in value)):
        return [[float(x), float(y)] for x, y in value]
    return None


def read_pages(dataset: str | Path) -> tuple[list[PageRow], list[BadLine]]:
    """Read ``pages.jsonl`` of a page dataset directory into rows and unreadable lines."""
    return read_records(Path(dataset) / PAGES_FILE, "page", _page_row)


def _page_row(number: int, record: dict, reject: Reject) -> tuple[PageRow | None, BadLine | None]:
    image, split, lines = record.get("image"), record.get("split"), record.get("lines")
    if not isinstance(image, str) or not image.strip():
        return reject("page_missing_image", 'field "image" must be a non-empty string')
    if split is not None and split not in SPLITS:
        return reject("page_bad_split", f'field "split" must be one of {", ".join(SPLITS)}')
    if not isinstance(lines, list):
        return reject("page_missing_lines", 'field "lines" must be a list of {"text", "points"}')
    parsed = []
    for i, item in enumerate(lines):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            return reject("page_bad_line", f'line {i}: must be an object with a string "text"')
        polygon = parse_polygon(item.get("points", item.get("box")))
        if polygon is None:
            return reject("page_bad_polygon", f'line {i}: "points" needs 4+ [x, y] pairs (or "box" [x1, y1, x2, y2])')
        parsed.append(PageLine(item["text"], polygon))
    ignore = []
    for i, value in enumerate(record.get("ignore") or []):
        polygon = parse_polygon(value)
        if polygon is None:
            return reject("page_bad_polygon", f"ignore region {i}: needs 4+ [x, y] pairs")
        ignore.append(polygon)
    extra = {k: v for k, v in record.items() if k not in {"image", "split", "lines", "ignore"}}
    return PageRow(image, parsed, split, ignore, number, extra), None


def write_pages(dataset: str | Path, rows: Iterable[PageRow]) -> Path:
    """Write rows as ``pages.jsonl`` (UTF-8, one JSON object per page)."""
    return write_jsonl(Path(dataset) / PAGES_FILE, (row.to_json() for row in rows))
