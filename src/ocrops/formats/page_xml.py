"""PAGE-XML 2019-07-15 (PRImA): one file per page, a ``TextRegion`` holding the lines in reading order, each
``TextLine`` with its polygon, its words and its text with the confidence."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from ocrops import __version__
from ocrops.formats.layout import PageLayout, Quad, bbox, union

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA = f"{NS} {NS}/pagecontent.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _points(quad: Quad) -> str:
    return " ".join(f"{max(round(x), 0)},{max(round(y), 0)}" for x, y in quad)


def _text(parent: ET.Element, q, text: str, confidence: float | None = None) -> None:
    equiv = ET.SubElement(parent, q("TextEquiv"), {} if confidence is None else {"conf": f"{confidence:.4f}"})
    ET.SubElement(equiv, q("Unicode")).text = text


def page_xml(page: PageLayout, image_name: str) -> bytes:
    """One page (``image_name``: its image file, as PAGE-XML names it)."""
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    q = lambda tag: f"{{{NS}}}{tag}"  # noqa: E731
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    root = ET.Element(q("PcGts"), {f"{{{XSI}}}schemaLocation": SCHEMA})
    metadata = ET.SubElement(root, q("Metadata"))
    ET.SubElement(metadata, q("Creator")).text = f"ocrops {__version__}"
    ET.SubElement(metadata, q("Created")).text = now
    ET.SubElement(metadata, q("LastChange")).text = now
    element = ET.SubElement(root, q("Page"), {"imageFilename": image_name, "imageWidth": str(page.width),
                                              "imageHeight": str(page.height)})
    if page.lines:
        region = ET.SubElement(element, q("TextRegion"), {"id": f"r{page.number}", "type": "paragraph"})
        boxes = [bbox(line.quad) for line in page.lines]
        left, top, right, bottom = union(boxes)
        ET.SubElement(region, q("Coords"), {"points": _points(((left, top), (right, top), (right, bottom),
                                                                (left, bottom)))})
        for k, line in enumerate(page.lines, 1):
            text_line = ET.SubElement(region, q("TextLine"), {"id": f"r{page.number}_l{k}"})
            ET.SubElement(text_line, q("Coords"), {"points": _points(line.quad)})
            for w, word in enumerate(line.words, 1):
                item = ET.SubElement(text_line, q("Word"), {"id": f"r{page.number}_l{k}_w{w}"})
                ET.SubElement(item, q("Coords"), {"points": _points(word.quad)})
                _text(item, q, word.text)
            _text(text_line, q, line.text, line.confidence)
        _text(region, q, "\n".join(line.text for line in page.lines))
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"
