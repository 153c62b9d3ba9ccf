"""The dataset contract: ``labels.jsonl`` + ``images/`` (+ optional ``lexicon.txt``).

Reading is defensive: a line that is not UTF-8, not JSON or misses a field is
returned as a :class:`BadLine` with its reason, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from ocrops.config import SPLITS
from ocrops.data.files import write_jsonl
from ocrops.errors import ErrorCode

LABELS_FILE = "labels.jsonl"
LEXICON_FILE = "lexicon.txt"
IMAGES_DIR = "images"
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")
T = TypeVar("T")


@dataclass(frozen=True)
class LabelRow:
    """One labeled image; ``line`` is its 1-based line in labels.jsonl."""

    image: str
    text: str
    split: str | None = None
    line: int = 0
    extra: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        record = {"image": self.image, "text": self.text}
        if self.split is not None:
            record["split"] = self.split
        record.update(self.extra)
        return record


@dataclass(frozen=True)
class BadLine:
    """A labels.jsonl line that could not be read as a row."""

    line: int
    reason: str
    code: int
    detail: str
    raw: str

    def to_json(self) -> dict:
        return asdict(self)


# Control, format, surrogate, private-use and unassigned code points: no OCR model can be taught to emit them.
UNREPRESENTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def unrepresentable(text: str) -> str:
    """Characters of ``text`` no model family can represent (tabs and newlines included), in order."""
    import unicodedata

    return "".join(dict.fromkeys(c for c in text if unicodedata.category(c) in UNREPRESENTABLE_CATEGORIES))


Reject = Callable[[str, str], tuple[None, BadLine]]


def read_records(path: Path, prefix: str, build: Callable[[int, dict, Reject], tuple[T | None, BadLine | None]]
                 ) -> tuple[list[T], list[BadLine]]:
    """Rows of a JSONL file: each line decoded as UTF-8 JSON object (else a BadLine ``<prefix>_not_utf8``,
    ``_not_json``, ``_not_object``), then turned into a row by ``build(line number, record, reject)``."""
    rows: list[T] = []
    bad: list[BadLine] = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        row, problem = _parse_record(number, raw, prefix, build)
        if row is not None:
            rows.append(row)
        else:
            bad.append(problem)
    return rows, bad


def _parse_record(number: int, raw: bytes, prefix: str, build) -> tuple[object | None, BadLine | None]:
    shown = raw.decode("utf-8", errors="backslashreplace")[:300]

    def reject(reason: str, detail: str) -> tuple[None, BadLine]:
        return None, BadLine(number, reason, int(ErrorCode.INVALID_INPUT), detail, shown)

    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        return reject(f"{prefix}_not_utf8", f"byte {exc.start}: {exc.reason}")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return reject(f"{prefix}_not_json", str(exc))
    if not isinstance(record, dict):
        return reject(f"{prefix}_not_object", f"expected a JSON object, got {type(record).__name__}")
    return build(number, record, reject)


def read_labels(dataset: str | Path) -> tuple[list[LabelRow], list[BadLine]]:
    """Read ``labels.jsonl`` of a dataset directory into rows and unreadable lines."""
    return read_records(Path(dataset) / LABELS_FILE, "label", _label_row)


def _label_row(number: int, record: dict, reject: Reject) -> tuple[LabelRow | None, BadLine | None]:
    image, label, split = record.get("image"), record.get("text"), record.get("split")
    if not isinstance(image, str) or not image.strip():
        return reject("label_missing_image", 'field "image" must be a non-empty string')
    if not isinstance(label, str):
        return reject("label_missing_text", 'field "text" must be a string')
    if split is not None and not isinstance(split, str):
        return reject("label_bad_split", f'field "split" must be one of {", ".join(SPLITS)}')
    extra = {k: v for k, v in record.items() if k not in {"image", "text", "split"}}
    return LabelRow(image=image, text=label, split=split, line=number, extra=extra), None


def write_labels(dataset: str | Path, rows: Iterable[LabelRow]) -> Path:
    """Write rows as ``labels.jsonl`` (UTF-8, one JSON object per line, no ASCII escaping)."""
    return write_jsonl(Path(dataset) / LABELS_FILE, (row.to_json() for row in rows))


def read_lexicon(dataset: str | Path) -> list[str]:
    """Domain terms of a dataset, in file order; empty when it has no lexicon."""
    path = Path(dataset) / LEXICON_FILE
    if not path.exists():
        return []
    terms = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [t for t in terms if t and not t.startswith("#")]
