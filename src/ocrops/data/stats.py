"""Dataset statistics: split counts, label-length histogram, character set."""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ocrops.config import SPLITS
from ocrops.data.contract import read_labels, read_lexicon


@dataclass
class DatasetStats:
    rows: int
    unreadable_lines: int
    splits: dict[str, int]
    length_histogram: dict[str, int]
    charset_size: int
    char_classes: dict[str, int]
    top_chars: list[tuple[str, int]]
    oov_chars: dict[str, int] | None
    lexicon_terms: int

    def to_json(self) -> dict:
        return self.__dict__ | {"top_chars": [list(t) for t in self.top_chars]}


def _char_class(ch: str) -> str:
    if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
        return "cjk"
    if ch.isascii():
        return "digit" if ch.isdigit() else ("latin" if ch.isalpha() else "ascii_symbol")
    return unicodedata.category(ch)[0].lower() + "_other"  # e.g. s_other (℃, ±), n_other (①, ²)


def length_bucket(n: int, edges: tuple[int, ...] = (5, 10, 20, 30, 50)) -> str:
    lo = 0
    for edge in edges:
        if n <= edge:
            return f"{lo + 1 if lo else 0}-{edge}"
        lo = edge
    return f">{edges[-1]}"


def dataset_stats(dataset: str | Path, vocabulary: frozenset[str] | None = None) -> DatasetStats:
    rows, bad = read_labels(dataset)
    splits = Counter(r.split or "(unassigned)" for r in rows)
    chars = Counter(ch for r in rows for ch in r.text if not ch.isspace())
    lengths = Counter(length_bucket(len(r.text)) for r in rows)
    order = [length_bucket(n) for n in (0, 5, 10, 20, 30, 50, 51)]
    return DatasetStats(
        rows=len(rows),
        unreadable_lines=len(bad),
        splits={s: splits.get(s, 0) for s in SPLITS} | {k: v for k, v in splits.items() if k not in SPLITS},
        length_histogram={b: lengths.get(b, 0) for b in dict.fromkeys(order)},
        charset_size=len(chars),
        char_classes=dict(Counter(_char_class(c) for c in chars.elements()).most_common()),
        top_chars=chars.most_common(20),
        oov_chars=None if vocabulary is None else {c: n for c, n in chars.most_common() if c not in vocabulary},
        lexicon_terms=len(read_lexicon(dataset)),
    )
