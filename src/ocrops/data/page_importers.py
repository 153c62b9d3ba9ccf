"""Page importers: PAGE-XML (the OCR-D / Transkribus standard) and a plain JSON form into the page contract.

Images are copied into ``OUT/images/`` under stable names; lines keep their polygons and, for PAGE-XML, the
reading order of the ``ReadingOrder`` element (regions in its order, lines in document order within a region;
document order when there is none). Anything that cannot be taken is listed in ``OUT/import_rejects.jsonl``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # noqa: S405 - files the user imports, not network input
from pathlib import Path

from ocrops.config import SplitRatios
from ocrops.data.contract import IMAGES_DIR
from ocrops.data.files import write_jsonl
from ocrops.data.importers import REJECTS_FILE, ImportResult
from ocrops.data.pages import PageLine, PageRow, parse_polygon, write_pages
from ocrops.data.split import sha256_bytes, split_for_hash


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


def _finish(out: Path, rows: list[PageRow], rejected: list[dict]) -> ImportResult:
    write_pages(out, rows)
    write_jsonl(out / REJECTS_FILE, rejected)
    splits: dict[str, int] = {}
    for row in rows:
        splits[row.split] = splits.get(row.split, 0) + 1
    return ImportResult(out_dir=out, imported=len(rows), rejected=rejected, splits=splits)


def _copy(image: Path, out: Path, index: int) -> tuple[str, str]:
    data = image.read_bytes()
    name = f"{IMAGES_DIR}/{index:06d}_{image.stem[:60]}{image.suffix.lower()}"
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(data)  # the bytes already read for the digest, not a second read
    return name, sha256_bytes(data)


def import_page_xml(src: str | Path, out_dir: str | Path, ratios: SplitRatios = SplitRatios()) -> ImportResult:
    """Every ``*.xml`` under ``src`` (PAGE-XML) with the image its ``imageFilename`` names (beside it)."""
    src, out = Path(src), Path(out_dir)
    rows: list[PageRow] = []
    rejected: list[dict] = []
    for xml in sorted(src.rglob("*.xml")):
        try:
            image_name, lines, problems = read_page_xml(xml)
        except (ET.ParseError, StopIteration) as exc:
            rejected.append({"source": str(xml), "reason": f"not PAGE-XML ({type(exc).__name__}: {exc})"})
            continue
        rejected += [{"source": str(xml), "reason": p} for p in problems]
        image = xml.parent / image_name
        if not image_name or not image.is_file():
            rejected.append({"source": str(xml), "reason": f"image {image_name!r} not found beside it"})
            continue
        name, digest = _copy(image, out, len(rows))
        rows.append(PageRow(name, lines, split_for_hash(digest, ratios), extra={"source": xml.name}))
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
        name, digest = _copy(image, out, len(rows))
        split = record.get("split") or split_for_hash(digest, ratios)
        rows.append(PageRow(name, lines, split, [p for p in map(parse_polygon, record.get("ignore") or []) if p]))
    return _finish(out, rows, rejected)
