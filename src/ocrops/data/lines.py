"""Line datasets for training and evaluation: accepted rows of the validate stage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ocrops.data.files import read_jsonl
from ocrops.data.images import load_rgb


@dataclass(frozen=True)
class Line:
    path: str
    text: str
    source: str = ""  # where the row came from (labels.jsonl's "source": "review" for a reviewed line)


class LineDataset(Sequence[Line]):
    """An ordered list of (image path, text) with lazy image loading."""

    def __init__(self, lines: Sequence[Line], name: str = "lines") -> None:
        self.lines = list(lines)
        self.name = name

    @classmethod
    def from_accepted(cls, path: str | Path, split: str) -> LineDataset:
        """Rows of ``accepted.jsonl`` (written by the validate stage) for one split."""
        rows = read_jsonl(path)
        return cls([Line(r["path"], r["text"], str(r.get("source", ""))) for r in rows if r["split"] == split],
                   name=split)

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, index):  # type: ignore[override]
        return self.lines[index]

    def __iter__(self) -> Iterator[Line]:
        return iter(self.lines)

    def image(self, index: int) -> Image.Image:
        return load_rgb(self.lines[index].path)

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def digest(self) -> str:
        """Identifies the set of (image bytes, text) pairs, whatever their order or file names; two
        evaluations are comparable only on the same digest."""
        items = sorted(hashlib.sha256(Path(line.path).read_bytes()).hexdigest() + "\t" + line.text
                       for line in self.lines)
        return hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()
