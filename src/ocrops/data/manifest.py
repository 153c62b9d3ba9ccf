"""The manifest: one record per labels.jsonl line with the facts validation judges.

Nothing here decides; it measures. Facts that do not apply (no pixels for an
image that is too large to decode) stay None, so each rule judges only rows
where its measure exists.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from PIL import Image
from tqdm import tqdm

from ocrops.config import SplitRatios
from ocrops.data.contract import BadLine, LabelRow, read_labels, unrepresentable
from ocrops.data.images import ImageLimits, check_size, decode_rgb, read_header
from ocrops.data.split import sha256_bytes, split_for_hash
from ocrops.errors import ErrorCode, OcropsError


@dataclass
class ManifestRecord:
    row_id: int
    line: int
    image: str | None = None
    text: str | None = None
    split: str | None = None
    split_source: str | None = None  # "label" or "hash"
    label_ok: bool = True
    label_error: str | None = None
    label_detail: str | None = None
    path_inside: bool | None = None
    image_found: bool | None = None
    decodes: bool | None = None
    bomb: bool | None = None
    decode_detail: str | None = None
    sha256: str | None = None
    format: str | None = None
    mode: str | None = None
    width: int | None = None
    height: int | None = None
    longest_side: int | None = None
    pixels: int | None = None
    brightness: float | None = None
    text_len: int | None = None
    bad_chars: str | None = None
    bad_char_count: int | None = None
    oov_chars: str | None = None
    oov_count: int | None = None
    dup_rank: int | None = None
    dup_of_line: int | None = None
    hash_splits: int | None = None


def build_manifest(
    dataset: str | Path,
    limits: ImageLimits = ImageLimits(),
    vocabulary: frozenset[str] | None = None,
    ratios: SplitRatios = SplitRatios(),
    progress: bool = True,
) -> list[ManifestRecord]:
    """Measure every line of a dataset's labels.jsonl."""
    dataset = Path(dataset)
    if not (dataset / "labels.jsonl").exists():
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{dataset}/labels.jsonl not found: not a dataset directory")
    rows, bad = read_labels(dataset)
    items: list[LabelRow | BadLine] = sorted([*rows, *bad], key=lambda item: item.line)
    records = [
        _measure(row_id, item, dataset, limits, vocabulary, ratios)
        for row_id, item in enumerate(tqdm(items, desc="inspect", unit="img", disable=not progress))
    ]
    mark_duplicates(records)
    return records


def _measure(
    row_id: int,
    item: LabelRow | BadLine,
    dataset: Path,
    limits: ImageLimits,
    vocabulary: frozenset[str] | None,
    ratios: SplitRatios,
) -> ManifestRecord:
    if isinstance(item, BadLine):
        return ManifestRecord(
            row_id=row_id, line=item.line, text=item.raw, label_ok=False,
            label_error=item.reason, label_detail=item.detail,
        )
    rec = ManifestRecord(row_id=row_id, line=item.line, image=item.image, text=item.text)
    measure_text(rec, item.text, vocabulary)
    measure_image(rec, dataset, item.image, item.split, limits, ratios)
    return rec


def measure_text(rec: ManifestRecord, text: str, vocabulary: frozenset[str] | None) -> None:
    """Fill ``rec``'s label facts: visible length, unrepresentable and out-of-vocabulary characters."""
    rec.text_len = len(text.strip())
    rec.bad_chars = unrepresentable(text)
    rec.bad_char_count = len(rec.bad_chars)
    if vocabulary is not None:
        missing = [c for c in text if c not in vocabulary]
        rec.oov_count = len(missing)
        rec.oov_chars = "".join(sorted(set(missing)))


def measure_image(rec: ManifestRecord, dataset: Path, image: str, split: str | None, limits: ImageLimits,
                  ratios: SplitRatios) -> Image.Image | None:
    """Fill ``rec``'s image facts (a labels.jsonl row's or a page's); returns the decoded upright RGB image,
    None where it was not decoded. A row without a split gets one from its content hash."""
    rec.split, rec.split_source = split, "label"
    root = dataset.resolve()
    path = (dataset / image).resolve()
    rec.path_inside = path.is_relative_to(root)
    if not rec.path_inside:
        return None
    rec.image_found = path.is_file()
    if not rec.image_found:
        return None
    data = path.read_bytes()
    rec.sha256 = sha256_bytes(data)
    if split is None:
        rec.split, rec.split_source = split_for_hash(rec.sha256, ratios), "hash"
    try:
        header, rec.format, rec.width, rec.height = read_header(data)
    except OcropsError as exc:
        if exc.code == ErrorCode.UNREADABLE_IMAGE:
            rec.decodes = False
        else:  # Pillow refused the header itself: pixel count far beyond any sane page
            rec.bomb = True
        rec.decode_detail = exc.message
        return None
    rec.bomb = False
    rec.mode = header.mode
    rec.longest_side, rec.pixels = max(rec.width, rec.height), rec.width * rec.height
    try:
        check_size(rec.width, rec.height, limits)
    except OcropsError as exc:  # the size rules report it; pixels are never decoded
        rec.decode_detail = exc.message
        return None
    try:
        rgb, rec.brightness = decode_rgb(header)
        rec.decodes = True
    except OcropsError as exc:
        rec.decodes, rec.decode_detail = False, exc.message
        return None
    return rgb


def mark_duplicates(records: Iterable[ManifestRecord]) -> None:
    """Rank identical images (first occurrence 0) and count the splits each image appears in."""
    by_hash: dict[str, list[ManifestRecord]] = defaultdict(list)
    for rec in records:
        if rec.sha256 is not None:
            by_hash[rec.sha256].append(rec)
    for group in by_hash.values():
        splits = {r.split for r in group}
        for rank, rec in enumerate(group):
            rec.dup_rank = rank
            rec.dup_of_line = group[0].line if rank else None
            rec.hash_splits = len(splits)


def to_frame(records: list[ManifestRecord]) -> pd.DataFrame:
    """Manifest as a DataFrame; missing numeric facts become NaN, which rules skip."""
    return pd.DataFrame([asdict(r) for r in records])


def oov_counter(records: Iterable[ManifestRecord]) -> Counter:
    """How often each out-of-vocabulary character occurs in the labels."""
    counts: Counter = Counter()
    for rec in records:
        if rec.oov_chars:
            counts.update(c for c in (rec.text or "") if c in rec.oov_chars)
    return counts
