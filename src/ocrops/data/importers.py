"""Importers: other dataset layouts into the ocrops contract.

Each importer copies images into ``OUT/images/`` (converting formats other than
PNG/JPEG to PNG), writes ``labels.jsonl`` with a split by content hash, and
lists every source entry it could not take in ``OUT/import_rejects.jsonl``.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ocrops.config import SplitRatios
from ocrops.data.contract import IMAGES_DIR, LabelRow, write_labels
from ocrops.data.files import write_jsonl
from ocrops.data.images import to_rgb
from ocrops.data.label_studio import decode_data_uri, reviewed_lines
from ocrops.data.split import sha256_bytes, split_for_hash

REJECTS_FILE = "import_rejects.jsonl"
_NATIVE = {".png", ".jpg", ".jpeg"}
_CONVERTIBLE = {".tif", ".tiff", ".bmp", ".webp", ".gif"}
_IMAGE_SUFFIXES = _NATIVE | _CONVERTIBLE


@dataclass
class ImportResult:
    out_dir: Path
    imported: int = 0
    rejected: list[dict] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)


class _Writer:
    """Copies images under stable names and collects rows and rejects."""

    def __init__(self, out_dir: Path, ratios: SplitRatios) -> None:
        self.out, self.ratios = out_dir, ratios
        (out_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        self.rows: list[LabelRow] = []
        self.rejected: list[dict] = []

    def reject(self, source: str, reason: str) -> None:
        self.rejected.append({"source": source, "reason": reason})

    def add(self, image_path: Path, text: str, split: str | None = None) -> None:
        data = image_path.read_bytes()
        suffix = image_path.suffix.lower()
        if suffix in _CONVERTIBLE:
            try:
                with Image.open(io.BytesIO(data)) as im:
                    buf = io.BytesIO()
                    to_rgb(im).save(buf, format="PNG")
                data, suffix = buf.getvalue(), ".png"
            except (OSError, ValueError) as exc:
                # Kept as is: validation quarantines it with the reason, nothing is lost.
                self.reject(str(image_path), f"could not convert {suffix} to PNG ({exc}); copied unchanged")
        digest = sha256_bytes(data)
        name = f"{IMAGES_DIR}/{len(self.rows):06d}_{image_path.stem[:60]}{suffix}"
        (self.out / name).write_bytes(data)
        self.rows.append(LabelRow(image=name, text=text, split=split or split_for_hash(digest, self.ratios)))

    def add_bytes(self, data: bytes, name: str, text: str, split: str | None = None, extra: dict | None = None
                  ) -> None:
        """An image given as bytes, stored as ``images/NAME``."""
        (self.out / IMAGES_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (self.out / IMAGES_DIR / name).write_bytes(data)
        self.rows.append(LabelRow(image=f"{IMAGES_DIR}/{name}", text=text,
                                  split=split or split_for_hash(sha256_bytes(data), self.ratios), extra=extra or {}))

    def finish(self) -> ImportResult:
        write_labels(self.out, self.rows)
        write_jsonl(self.out / REJECTS_FILE, self.rejected)
        splits: dict[str, int] = {}
        for row in self.rows:
            splits[row.split] = splits.get(row.split, 0) + 1
        return ImportResult(self.out, len(self.rows), self.rejected, splits)


def _prepare(out_dir: str | Path, overwrite: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def import_pairs(src: str | Path, out_dir: str | Path, ratios: SplitRatios = SplitRatios(),
                 encoding: str = "utf-8", overwrite: bool = False) -> ImportResult:
    """Import ``NAME.png`` + ``NAME.gt.txt`` pairs (searched recursively)."""
    src = Path(src)
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is not a directory")
    writer = _Writer(_prepare(out_dir, overwrite), ratios)
    images = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
    paired: set[Path] = set()
    for image in images:
        gt = image.with_suffix(".gt.txt")
        if not gt.exists():
            writer.reject(str(image), "no ground truth file (expected NAME.gt.txt)")
            continue
        paired.add(gt)
        try:
            text = gt.read_text(encoding=encoding).lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            writer.reject(str(gt), f"not {encoding} text ({exc.reason} at byte {exc.start}); try --encoding")
            continue
        writer.add(image, " ".join(text.split()))
    for gt in sorted(src.rglob("*.gt.txt")):
        if gt not in paired:
            writer.reject(str(gt), "ground truth without an image")
    return writer.finish()


def import_sharegpt(src: str | Path, out_dir: str | Path, ratios: SplitRatios = SplitRatios(),
                    overwrite: bool = False) -> ImportResult:
    """Import ShareGPT records (``messages`` or ``conversations`` + ``images``), JSON or JSONL.

    The assistant's answer is the label; image paths are relative to the JSON file.
    """
    src = Path(src)
    base = src.parent
    raw = src.read_text(encoding="utf-8")
    try:
        records = json.loads(raw)
        if isinstance(records, dict):
            records = [records]
    except json.JSONDecodeError:
        records = []
        for number, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    records.append({"__error__": f"line {number}: {exc}"})
    writer = _Writer(_prepare(out_dir, overwrite), ratios)
    for index, record in enumerate(records):
        where = f"{src.name}[{index}]"
        problem, image, text = _parse_sharegpt(record, base)
        if problem:
            writer.reject(where, problem)
        else:
            writer.add(image, text, record.get("split"))
    return writer.finish()


def _parse_sharegpt(record: object, base: Path) -> tuple[str | None, Path | None, str]:
    if not isinstance(record, dict):
        return "record is not a JSON object", None, ""
    if "__error__" in record:
        return f"not JSON: {record['__error__']}", None, ""
    turns = record.get("messages") or record.get("conversations")
    if not isinstance(turns, list):
        return 'no "messages" (or "conversations") list', None, ""
    answers = [
        t.get("content", t.get("value")) for t in turns
        if isinstance(t, dict) and t.get("role", t.get("from")) in {"assistant", "gpt"}
    ]
    if not answers or not isinstance(answers[-1], str):
        return "no assistant answer", None, ""
    images = record.get("images") or []
    if len(images) != 1 or not isinstance(images[0], str):
        return f"expected exactly one image, got {len(images)}", None, ""
    path = Path(images[0]) if Path(images[0]).is_absolute() else base / images[0]
    if not path.is_file():
        return f"image not found: {images[0]}", None, ""
    return None, path, answers[-1]


def import_label_studio(tasks: list[dict], out_dir: str | Path, ratios: SplitRatios = SplitRatios(),
                        overwrite: bool = False, fetch: Callable[[str], bytes] | None = None) -> ImportResult:
    """Import Label Studio's JSON export (reviewed lines): each task's latest finished transcription, its image
    from the task (a data URI; a URL of the server through ``fetch``), provenance ``source: review``; the
    split by content hash, so a reviewed line lands in test as often as any line."""
    writer = _Writer(_prepare(out_dir, overwrite), ratios)
    for line in reviewed_lines(tasks):
        where = f"task {line.task_id}"
        if line.problem:
            writer.reject(where, line.problem)
            continue
        data = decode_data_uri(line.image)
        if data is None and fetch is not None:
            try:
                data = fetch(line.image)
            except OSError as exc:
                writer.reject(where, f"its image {line.image[:80]} could not be fetched: {exc}")
                continue
        if data is None:
            writer.reject(where, f"its image is not embedded in the export ({line.image[:80]}): pull it with "
                                 "`ocrops review pull`, which fetches it from the server")
            continue
        suffix = ".jpg" if data[:3] == b"\xff\xd8\xff" else ".png"
        writer.add_bytes(data, f"review/{sha256_bytes(data)[:20]}{suffix}", line.text, extra=line.extra)
    return writer.finish()
