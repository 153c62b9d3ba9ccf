"""Page importers: PAGE-XML (the OCR-D / Transkribus standard), ALTO (libraries' archives) and a plain JSON form
into the page contract.

Images are copied into ``OUT/images/`` under stable names; lines keep their polygons and, for PAGE-XML, the
reading order of the ``ReadingOrder`` element (regions in its order, lines in document order within a region;
document order when there is none). A transcription of a PDF page is taken with that page rendered to PNG at the
size the file declares (its page number: ALTO's ``PHYSICAL_IMG_NR``, or the digits that end the XML file's name,
``report_0002.xml``; none needed for a one-page PDF). Anything that cannot be taken is listed in
``OUT/import_rejects.jsonl``.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - files the user imports, not network input
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ocrops.config import SplitRatios
from ocrops.data.contract import IMAGES_DIR
from ocrops.data.documents import POINTS_PER_INCH, is_pdf, open_pdf, render_page
from ocrops.data.files import write_jsonl
from ocrops.data.importers import REJECTS_FILE, ImportResult
from ocrops.data.pages import PageLine, PageRow, box_polygon, parse_polygon, write_pages
from ocrops.data.split import sha256_bytes, split_for_hash
from ocrops.errors import OcropsError

SKIPPED_LINE_TYPES = ("handwritten",)  # ALTO line types (tag labels) left out: these sets are of printed text
# ALTO's MeasurementUnit -> inches per unit; "pixel" is the page image's own
ALTO_UNITS = {"mm10": 1 / 254, "inch1200": 1 / 1200}


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if local_name(child.tag) == name]


def _points(element: ET.Element) -> list[list[float]] | None:
    coords = next(iter(children(element, "Coords")), None)
    if coords is None or not coords.get("points"):
        return None
    try:
        pairs = [[float(v) for v in p.split(",")] for p in coords.get("points").split()]
    except ValueError:
        return None
    return parse_polygon(pairs) if all(len(p) == 2 for p in pairs) else None


def _text(element: ET.Element) -> str | None:
    for equiv in children(element, "TextEquiv"):
        unicode = next(iter(children(equiv, "Unicode")), None)
        if unicode is not None:
            return (unicode.text or "").strip()
    return None


def read_page_xml(path: str | Path) -> tuple[str, list[PageLine], list[str]]:
    """(image file name, lines in reading order, problems) of one PAGE-XML file."""
    root = ET.parse(path).getroot()  # noqa: S314
    page = next(e for e in root.iter() if local_name(e.tag) == "Page")
    regions = {r.get("id"): r for r in page.iter() if local_name(r.tag) == "TextRegion"}
    order = [ref.get("regionRef") for ref in sorted(
        (e for e in page.iter() if local_name(e.tag) in ("RegionRefIndexed", "RegionRef")),
        key=lambda e: int(e.get("index", 0)))]
    ordered = [regions[r] for r in order if r in regions] + [r for k, r in regions.items() if k not in order]
    lines, problems = [], []
    for region in ordered:
        for line in children(region, "TextLine"):
            points, text = _points(line), _text(line)
            if points is None or text is None:
                problems.append(f"line {line.get('id')}: " + ("no Coords points" if points is None else "no TextEquiv"))
                continue
            lines.append(PageLine(text, points))
    return page.get("imageFilename", ""), lines, problems


def read_alto(path: str | Path, page: int | None = None) -> tuple[str, list[PageLine], list[str]]:
    """(image file name, lines in document order, problems) of one ALTO file (v2-v4), or of its ``page``-th
    ``Page`` (0-based; a document's ALTO has one per page): a line's text is its ``String`` contents joined by
    spaces, its outline the ``Shape/Polygon`` or else its box."""
    root = ET.parse(path).getroot()  # noqa: S314
    name = next(((e.text or "").strip() for e in root.iter() if local_name(e.tag) == "fileName"), "")
    labels = {e.get("ID"): e.get("LABEL", "") for e in root.iter() if local_name(e.tag) == "OtherTag"}
    scope = root if page is None else [e for e in root.iter() if local_name(e.tag) == "Page"][page]
    lines, problems = [], []
    for line in (e for e in scope.iter() if local_name(e.tag) == "TextLine"):
        kinds = [labels.get(ref, "") for ref in (line.get("TAGREFS") or "").split()]
        if skipped := [k for k in kinds if any(t in k.lower() for t in SKIPPED_LINE_TYPES)]:
            problems.append(f"line {line.get('ID')}: line type {skipped[0]} (not printed text)")
            continue
        words = [s.get("CONTENT", "") for s in line.iter() if local_name(s.tag) == "String"]
        outline = _alto_outline(line)
        if outline is None or not words:
            problems.append(f"line {line.get('ID')}: " + ("no outline" if outline is None else "no String"))
            continue
        lines.append(PageLine(" ".join(w for w in words if w), outline))
    return name, lines, problems


def _alto_outline(line: ET.Element) -> list[list[float]] | None:
    for shape in children(line, "Shape"):
        for polygon in children(shape, "Polygon"):
            values = [float(v) for v in polygon.get("POINTS", "").replace(",", " ").split()]
            if len(values) >= 8 and len(values) % 2 == 0:
                return [[values[i], values[i + 1]] for i in range(0, len(values), 2)]
    try:
        x, y, w, h = (float(line.get(k, "")) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
    except ValueError:
        return None
    return box_polygon([x, y, x + w, y + h]) if w > 0 and h > 0 else None


@dataclass(frozen=True)
class PageFrame:
    """Where a transcription sits in its document: the page number (1-based, when the file says) and the page's
    size in the file's units, with the units' size in inches (None: pixels)."""

    number: int | None
    size: tuple[float, float] | None
    inches_per_unit: float | None = None


def page_frame(root: ET.Element, xml: Path, page: ET.Element | None) -> PageFrame:
    if local_name(root.tag).lower() == "alto":
        unit = next(((e.text or "").strip() for e in root.iter() if local_name(e.tag) == "MeasurementUnit"), "pixel")
        number = page.get("PHYSICAL_IMG_NR") if page is not None else None
        size = (page.get("WIDTH"), page.get("HEIGHT")) if page is not None else (None, None)
        inches = ALTO_UNITS.get(unit)
    else:
        digits = re.search(r"(\d+)$", xml.stem)
        number = digits.group(1) if digits else None
        size = (page.get("imageWidth"), page.get("imageHeight")) if page is not None else (None, None)
        inches = None
    try:
        dims = (float(size[0]), float(size[1]))
    except (TypeError, ValueError):
        dims = None
    return PageFrame(int(number) if number and str(number).isdigit() else None, dims, inches)


def pdf_page(data: bytes, frame: PageFrame, lines: list[PageLine], dpi: int = 200) -> tuple[bytes, list[PageLine]]:
    """A transcribed PDF page rendered as PNG, and its lines in that PNG's pixels; ValueError says why not."""
    with open_pdf(data) as document:
        count = len(document)
        number = frame.number or (1 if count == 1 else None)
        if number is None:
            raise ValueError(f"which of the PDF's {count} pages? (ALTO: Page PHYSICAL_IMG_NR; PAGE-XML: end the "
                             "file's name with the page number, report_0002.xml)")
        if not 1 <= number <= count:
            raise ValueError(f"page {number} is not in the PDF ({count} pages)")
        width_pt, height_pt = document.get_page_size(number - 1)
    if frame.size is not None and frame.inches_per_unit is None:  # pixels of a picture of the page
        scale = frame.size[0] / width_pt
        if abs(height_pt * scale - frame.size[1]) > max(2.0, 0.01 * frame.size[1]):
            raise ValueError(f"the page's declared size {frame.size[0]:g}x{frame.size[1]:g} px does not have the "
                             f"PDF page's shape ({width_pt:g}x{height_pt:g} pt)")
        factor = 1.0
    else:
        scale = dpi / POINTS_PER_INCH
        factor = frame.inches_per_unit * dpi if frame.inches_per_unit else 1.0
    picture = render_page(data, number - 1, scale)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    moved = [PageLine(line.text, [[x * factor, y * factor] for x, y in line.points]) for line in lines]
    return buffer.getvalue(), moved


def _finish(out: Path, rows: list[PageRow], rejected: list[dict]) -> ImportResult:
    write_pages(out, rows)
    write_jsonl(out / REJECTS_FILE, rejected)
    splits: dict[str, int] = {}
    for row in rows:
        splits[row.split] = splits.get(row.split, 0) + 1
    return ImportResult(out_dir=out, imported=len(rows), rejected=rejected, splits=splits)


def _store(data: bytes, out: Path, index: int, stem: str, suffix: str) -> str:
    name = f"{IMAGES_DIR}/{index:06d}_{stem}{suffix}"
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(data)  # the bytes already read for the digest, not a second read
    return name


def _transcriptions(src: Path, rejected: list[dict]) -> Iterator[tuple[Path, str, ET.Element, ET.Element | None,
                                                                        int | None, tuple[str, list[PageLine],
                                                                                          list[str]]]]:
    """(file, where, its root, its Page element, its position, what it reads) for each page transcribed under
    ``src``: one per PAGE-XML file, one per ``Page`` of an ALTO file (its position N from 1 on, ``where`` ending
    in ``[N]``; None for a file of one page)."""
    for xml in sorted(src.rglob("*.xml")):
        where = xml.relative_to(src).as_posix()
        try:
            root = ET.parse(xml).getroot()  # noqa: S314
            pages = [e for e in root.iter() if local_name(e.tag) == "Page"]
            if local_name(root.tag).lower() == "alto" and len(pages) > 1:
                read = [(f"{where}[{k + 1}]", page, k + 1, read_alto(xml, k)) for k, page in enumerate(pages)]
            elif local_name(root.tag).lower() == "alto":
                read = [(where, pages[0] if pages else None, None, read_alto(xml))]
            else:
                read = [(where, pages[0] if pages else None, None, read_page_xml(xml))]
        except (ET.ParseError, StopIteration, ValueError) as exc:
            rejected.append({"source": where, "reason": f"not PAGE-XML or ALTO ({type(exc).__name__}: {exc})"})
            continue
        for name, page, position, found in read:
            yield xml, name, root, page, position, found


def import_page_xml(src: str | Path, out_dir: str | Path, ratios: SplitRatios = SplitRatios(),
                    dpi: int = 200) -> ImportResult:
    """Every ``*.xml`` under ``src`` (PAGE-XML or ALTO) with the image or PDF it names (beside it)."""
    src, out = Path(src), Path(out_dir)
    rows: list[PageRow] = []
    rejected: list[dict] = []
    for xml, where, root, page, position, (image_name, lines, problems) in _transcriptions(src, rejected):
        rejected += [{"source": where, "reason": p} for p in problems]
        image = xml.parent / Path(image_name).name
        if not image_name or not image.is_file():
            rejected.append({"source": where, "reason": f"image {image_name!r} not found beside it"})
            continue
        data = image.read_bytes()
        if is_pdf(data):
            frame = page_frame(root, xml, page)
            if frame.number is None and position is not None:
                frame = replace(frame, number=position)
            try:
                data, lines = pdf_page(data, frame, lines, dpi)
            except (ValueError, OcropsError) as exc:
                rejected.append({"source": where, "reason": str(exc)})
                continue
            name = _store(data, out, len(rows), f"{image.stem[:50]}_p{frame.number or 1:04d}", ".png")
        elif position is not None:
            rejected.append({"source": where, "reason": f"{image.name} is one picture; the ALTO has several pages"})
            continue
        else:
            name = _store(data, out, len(rows), image.stem[:60], image.suffix.lower())
        rows.append(PageRow(name, lines, split_for_hash(sha256_bytes(data), ratios), extra={"source": xml.name}))
    return _finish(out, rows, rejected)


def import_page_json(src: str | Path, out_dir: str | Path, ratios: SplitRatios = SplitRatios()) -> ImportResult:
    """A JSON list or JSONL of ``{"image": path relative to the file, "lines": [{"text", "points" | "box"}]}``."""
    src, out = Path(src), Path(out_dir)
    raw = src.read_text(encoding="utf-8")
    records = json.loads(raw) if raw.lstrip().startswith("[") else [
        json.loads(line) for line in raw.splitlines() if line.strip()]
    rows: list[PageRow] = []
    rejected: list[dict] = []
    for number, record in enumerate(records, start=1):
        source = f"{src.name}:{number}"
        image = src.parent / str(record.get("image", "")) if isinstance(record, dict) else None
        if image is None or not image.is_file():
            rejected.append({"source": source, "reason": "no image file at its 'image' path"})
            continue
        lines = []
        for i, item in enumerate(record.get("lines") or []):
            polygon = parse_polygon(item.get("points", item.get("box"))) if isinstance(item, dict) else None
            if polygon is None or not isinstance(item.get("text"), str):
                rejected.append({"source": f"{source} line {i}", "reason": "needs text and points (or box)"})
                continue
            lines.append(PageLine(item["text"], polygon))
        data = image.read_bytes()
        name = _store(data, out, len(rows), image.stem[:60], image.suffix.lower())
        split = record.get("split") or split_for_hash(sha256_bytes(data), ratios)
        rows.append(PageRow(name, lines, split, [p for p in map(parse_polygon, record.get("ignore") or []) if p]))
    return _finish(out, rows, rejected)
