"""The capture store: lines the service doubted, kept for review. A folder or any fsspec URL holds, per day
(``YYYY-MM-DD/``), each line's crop (PNG) beside its record (JSON: the redacted reading, calibrated confidence,
box, model version, request id, time); never the request's key or headers. Bounded by count and age."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fsspec
from PIL import Image

from ocrops.postprocess import redact


def line_record(line: dict[str, Any], model: dict[str, str], request_id: str) -> dict[str, Any]:
    """What is kept of an answered line: its readings masked with every personal-data pattern (whatever the
    request asked), its calibrated confidence and box, the model that read it, the request; nothing else."""
    return {"request_id": request_id, "text": redact(line["text"]), "raw_text": redact(line["raw_text"]),
            "confidence": line["confidence"], "box": line["box"], "model": model}


@dataclass(frozen=True)
class Captured:
    record: dict[str, Any]
    image: bytes  # the line's crop, PNG

    @property
    def name(self) -> str:
        return self.record["id"]


class CaptureStore:
    """Where captured lines live; ``url`` a folder or an fsspec URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)

    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def write(self, crop: Image.Image, record: dict[str, Any], now: float | None = None) -> str:
        """Store one line: its crop and its record (given an ``id`` and ``captured_at``); returns the id."""
        now = time.time() if now is None else now
        stamp = datetime.fromtimestamp(now, UTC)
        # names sort by time: the sweep removes the oldest first without reading a record
        line_id = f"{stamp:%Y-%m-%d}/{int(now * 1000):013d}-{record['request_id']}-{record.get('line', 0)}"
        buf = io.BytesIO()
        crop.convert("RGB").save(buf, format="PNG")
        self.fs.makedirs(self._path(f"{stamp:%Y-%m-%d}"), exist_ok=True)
        self.fs.pipe_file(self._path(f"{line_id}.png"), buf.getvalue())
        full = {"id": line_id, "image": f"{line_id.rsplit('/', 1)[1]}.png",
                "captured_at": stamp.isoformat(timespec="milliseconds"), **record}
        # the record last: a reader only takes lines whose record exists, so never a record without its crop
        self.fs.pipe_file(self._path(f"{line_id}.json"), json.dumps(full, ensure_ascii=False).encode())
        return line_id

    def ids(self) -> list[str]:
        """Every stored line, oldest first."""
        if not self.fs.exists(self.root):
            return []
        found = self.fs.glob(self._path("*", "*.json"))
        prefix = self.root.rstrip("/") + "/"
        return sorted(p.split(prefix, 1)[-1][: -len(".json")] for p in found)

    def read(self, line_id: str) -> Captured:
        record = json.loads(self.fs.cat_file(self._path(f"{line_id}.json")))
        return Captured(record, self.fs.cat_file(self._path(f"{line_id}.png")))

    def __iter__(self) -> Iterator[Captured]:
        for line_id in self.ids():
            try:
                yield self.read(line_id)
            except FileNotFoundError:  # swept away meanwhile
                continue

    def remove(self, line_id: str) -> None:
        for suffix in (".json", ".png"):  # the record first: a half-removed line is never read
            try:
                self.fs.rm_file(self._path(f"{line_id}{suffix}"))
            except FileNotFoundError:
                pass

    def sweep(self, max_lines: int, max_age_days: float, now: float | None = None) -> int:
        """Remove lines older than ``max_age_days`` and the oldest beyond ``max_lines``; returns how many."""
        now = time.time() if now is None else now
        ids = self.ids()
        oldest_kept = (now - max_age_days * 86400) * 1000
        expired = [i for i in ids if int(i.rsplit("/", 1)[1].split("-", 1)[0]) < oldest_kept]
        rest = ids[len(expired):]
        doomed = expired + rest[: max(0, len(rest) - max_lines)]
        for line_id in doomed:
            self.remove(line_id)
        return len(doomed)
