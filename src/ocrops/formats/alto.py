"""ALTO 4.4: every page under one ``Layout``, a ``TextLine`` per line with its words as ``String`` (``WC``: the
line's confidence, 0-1) and ``SP`` between them; measurements in the pages' pixels."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ocrops import __version__
from ocrops.formats.layout import PageLayout, bbox, union

NS = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _place(element: ET.Element, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    element.set("HPOS", str(left))
    element.set("VPOS", str(top))
    element.set("WIDTH", str(max(right - left, 1)))
    element.set("HEIGHT", str(max(bottom - top, 1)))


def alto(pages: list[PageLayout], name: str) -> bytes:
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    q = lambda tag: f"{{{NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("alto"), {f"{{{XSI}}}schemaLocation": f"{NS} {SCHEMA}"})
    description = ET.SubElement(root, q("Description"))
    ET.SubElement(description, q("MeasurementUnit")).text = "pixel"
    source = ET.SubElement(description, q("sourceImageInformation"))
    ET.SubElement(source, q("fileName")).text = name
    processing = ET.SubElement(description, q("OCRProcessing"), {"ID": "OCR_0"})
    step = ET.SubElement(processing, q("ocrProcessingStep"))
    software = ET.SubElement(step, q("processingSoftware"))
    ET.SubElement(software, q("softwareName")).text = "ocrops"
    ET.SubElement(software, q("softwareVersion")).text = __version__
    layout = ET.SubElement(root, q("Layout"))
    for page in pages:
        p = page.number
        element = ET.SubElement(layout, q("Page"), {"ID": f"page_{p}", "PHYSICAL_IMG_NR": str(p),
                                                    "WIDTH": str(page.width), "HEIGHT": str(page.height)})
        space = ET.SubElement(element, q("PrintSpace"))
        _place(space, (0, 0, page.width, page.height))
        if not page.lines:
            continue
        block = ET.SubElement(space, q("TextBlock"), {"ID": f"block_{p}_1"})
        boxes = [bbox(line.quad) for line in page.lines]
        _place(block, union(boxes))
        for k, (line, box) in enumerate(zip(page.lines, boxes, strict=True), 1):
            text_line = ET.SubElement(block, q("TextLine"), {"ID": f"line_{p}_{k}"})
            _place(text_line, box)
            for w, word in enumerate(line.words, 1):
                if w > 1:
                    ET.SubElement(text_line, q("SP"))
                string = ET.SubElement(text_line, q("String"), {"ID": f"string_{p}_{k}_{w}", "CONTENT": word.text,
                                                                "WC": f"{line.confidence:.4f}"})
                _place(string, bbox(word.quad))
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"
