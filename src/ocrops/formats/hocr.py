"""hOCR 1.2: the page as XHTML, a line per ``ocr_line`` and a word per ``ocrx_word``, each with its bbox and
confidence (``x_wconf``, 0-100)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ocrops import __version__
from ocrops.formats.layout import PageLayout, bbox, union

XHTML = "http://www.w3.org/1999/xhtml"


def _box(left: int, top: int, right: int, bottom: int) -> str:
    return f"bbox {left} {top} {right} {bottom}"


def hocr(pages: list[PageLayout], name: str) -> bytes:
    """One hOCR file for all pages (``name``: the image or PDF the pages came from)."""
    ET.register_namespace("", XHTML)
    html = ET.Element("html", {"xmlns": XHTML, "xml:lang": "und", "lang": "und"})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = name
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": f"ocrops {__version__}"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities",
                                 "content": "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf"})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(pages))})
    body = ET.SubElement(html, "body")
    for page in pages:
        p = page.number
        title = f'image "{name}"; {_box(0, 0, page.width, page.height)}; ppageno {p - 1}'
        if page.dpi:
            title += f"; scan_res {round(page.dpi)} {round(page.dpi)}"
        div = ET.SubElement(body, "div", {"class": "ocr_page", "id": f"page_{p}", "title": title})
        if not page.lines:
            continue
        boxes = [bbox(line.quad) for line in page.lines]
        area = ET.SubElement(div, "div", {"class": "ocr_carea", "id": f"block_{p}_1", "title": _box(*union(boxes))})
        par = ET.SubElement(area, "p", {"class": "ocr_par", "id": f"par_{p}_1", "title": _box(*union(boxes))})
        for k, (line, box) in enumerate(zip(page.lines, boxes, strict=True), 1):
            span = ET.SubElement(par, "span", {"class": "ocr_line", "id": f"line_{p}_{k}",
                                               "title": f"{_box(*box)}; x_wconf {round(line.confidence * 100)}"})
            for w, word in enumerate(line.words, 1):
                item = ET.SubElement(span, "span", {
                    "class": "ocrx_word", "id": f"word_{p}_{k}_{w}",
                    "title": f"{_box(*bbox(word.quad))}; x_wconf {round(line.confidence * 100)}"})
                item.text = word.text
                item.tail = " "
            if len(span):
                span[-1].tail = None
    text = ET.tostring(html, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n' + text + "\n").encode()
