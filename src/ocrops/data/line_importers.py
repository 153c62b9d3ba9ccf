"""Line crops from transcribed pages: PAGE-XML or ALTO files with their page images into the line contract.

Each transcribed line is cut from its page (the polygon's minimum-area rectangle, grown by ``margin`` x its
height, as the page reader cuts detected lines; at most 64 px high) and written as
``OUT/images/NNNNNN_PAGE_LINE.jpg`` with a ``labels.jsonl`` row that records where it came from: ``source``
(the collection), ``licence``, ``url`` and ``page`` (the transcription file). All lines of a page share its
split (by the page image's hash), so no page is split between training and evaluation. Lines that cannot be
taken are listed in ``import_rejects.jsonl``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - files the user imports, not network input
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ocrops.config import SplitRatios
from ocrops.data.contract import IMAGES_DIR, LabelRow, read_labels, write_labels
from ocrops.data.files import read_jsonl, write_jsonl
from ocrops.data.geometry import crop_quad, order_points, widen
from ocrops.data.images import load_rgb
from ocrops.data.importers import REJECTS_FILE, ImportResult
from ocrops.data.page_importers import read_alto, read_page_xml
from ocrops.data.pages import PageLine
from ocrops.data.split import sha256_bytes, split_for_hash

MIN_LINE_HEIGHT = 8  # pixels: below it a crop holds no readable glyphs
MAX_LINE_HEIGHT = 64  # pixels: taller crops are scaled down (the recognizers read lines at 48 px; keeps sets small)


@dataclass(frozen=True)
class Provenance:
    """Where imported lines come from; written into every row."""

    source: str
    licence: str
    url: str = ""

    def fields(self, page: str) -> dict:
        return {"source": self.source, "licence": self.licence, "url": self.url, "page": page}


@dataclass(frozen=True)
class LineFilter:
    """Transcription conventions of a collection: rows with ``skip`` substrings are left out (e.g. a marker for
    handwritten additions), ``strip`` characters are removed (e.g. underline or superscript markers)."""

    skip: tuple[str, ...] = ()
    strip: str = ""
    min_chars: int = 2

    def apply(self, text: str) -> tuple[str | None, str]:
        if any(s in text for s in self.skip):
            return None, f"holds {next(s for s in self.skip if s in text)!r} (skipped by the collection's rules)"
        text = " ".join(text.translate({ord(c): None for c in self.strip}).split())
        if len(text) < self.min_chars:
            return None, f"fewer than {self.min_chars} characters"
        return text, ""


READERS = {"page-xml": read_page_xml, "alto": read_alto}


def cut_line(page: Image.Image, outline: list[list[float]], margin: float) -> Image.Image:
    """The line inside ``outline`` (any polygon), upright, with ``margin`` x its height of paper around it."""
    rect = cv2.minAreaRect(np.asarray(outline, np.float32))
    quad = order_points(cv2.boxPoints(rect).astype(np.float32))
    crop = crop_quad(page, widen(quad, margin, page.width, page.height))
    if crop.height > MAX_LINE_HEIGHT:
        crop = crop.resize((max(1, round(crop.width * MAX_LINE_HEIGHT / crop.height)), MAX_LINE_HEIGHT),
                           Image.Resampling.LANCZOS)
    return crop


def import_page_lines(src: str | Path, out_dir: str | Path, provenance: Provenance, fmt: str = "page-xml",
                      ratios: SplitRatios = SplitRatios(), margin: float = 0.15,
                      line_filter: LineFilter = LineFilter(), max_lines: int | None = None) -> ImportResult:
    """Cut every transcribed line of the ``*.xml`` files under ``src`` out of its page image (named in the file,
    found beside it) into ``out_dir``; adds to the rows already there, so several collections make one set.
    ``max_lines`` takes whole pages in hash order (a fixed, unbiased choice) until that many lines are in."""
    src, out = Path(src), Path(out_dir)
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is not a directory")
    read = READERS[fmt]
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    rows = list(read_labels(out)[0]) if (out / "labels.jsonl").exists() else []
    start = len(rows)
    rejected: list[dict] = []
    for xml, image, digest, lines in _pages(src, read, rejected):
        if max_lines is not None and len(rows) - start >= max_lines:
            break
        split = split_for_hash(digest, ratios)
        page = load_rgb(image)
        page_name = xml.relative_to(src).as_posix()
        for number, line in enumerate(lines, start=1):
            where = f"{page_name} line {number}"
            text, why = line_filter.apply(line.text)
            if text is None:
                rejected.append({"source": where, "reason": why})
                continue
            crop = cut_line(page, line.points, margin)
            if min(crop.size) < MIN_LINE_HEIGHT:
                rejected.append({"source": where, "reason": f"crop {crop.width}x{crop.height} px is too small"})
                continue
            name = f"{IMAGES_DIR}/{len(rows):06d}_{xml.stem[:40]}_{number:03d}.jpg"
            crop.save(out / name, format="JPEG", quality=92)  # the pages are JPEG scans already
            rows.append(LabelRow(image=name, text=text, split=split, extra=provenance.fields(page_name)))
    write_labels(out, rows)
    earlier = read_jsonl(out / REJECTS_FILE, missing_ok=True) if start else []
    write_jsonl(out / REJECTS_FILE, earlier + rejected)
    splits: dict[str, int] = {}
    for row in rows[start:]:
        splits[row.split] = splits.get(row.split, 0) + 1
    return ImportResult(out, len(rows) - start, rejected, splits)


def _pages(src: Path, read, rejected: list[dict]) -> Iterable[tuple[Path, Path, str, list[PageLine]]]:
    """(transcription, page image, its hash, lines) in the order of the hash, for every readable file."""
    found = []
    for xml in sorted(src.rglob("*.xml")):
        where = xml.relative_to(src).as_posix()  # rows and rejects name files inside the source, not this machine
        try:
            image_name, lines, problems = read(xml)
        except (ET.ParseError, StopIteration, ValueError) as exc:
            rejected.append({"source": where, "reason": f"not {read.__name__[5:]} ({type(exc).__name__}: {exc})"})
            continue
        rejected += [{"source": where, "reason": p} for p in problems]
        image = xml.parent / Path(image_name).name
        if not image_name or not image.is_file():
            rejected.append({"source": where, "reason": f"image {image_name!r} not found beside it"})
            continue
        found.append((sha256_bytes(image.read_bytes()), xml, image, lines))
    for digest, xml, image, lines in sorted(found, key=lambda f: f[0]):
        yield xml, image, digest, lines
