"""A document's answer (ocrops.serving.api.document_result): pages in order, each with its own lines and size,
the text joined by form feeds, every line naming its page."""

from __future__ import annotations

from PIL import Image

from ocrops.data.documents import Page
from ocrops.data.images import ImageHeader
from ocrops.serving.api import Opened, document_result


def page(index: int, fmt: str = "PDF", dpi: float | None = 200.0) -> Page:
    return Page(index, ImageHeader(fmt, "RGB", 100, 50), lambda: Image.new("RGB", (100, 50)), dpi)


def test_a_document_answers_page_by_page():
    doubt = {"code": "low_confidence", "message": "the lines' mean confidence is 0.41"}
    results = [{"mode": "page", "text": "a\nb", "lines": [{"text": "a"}, {"text": "b"}], "width": 100, "height": 50,
                "rotation": 0, "warnings": []},
               {"mode": "page", "text": "c", "lines": [{"text": "c"}], "width": 60, "height": 120, "rotation": 90,
                "warnings": [doubt]}]
    answer = document_result(results, [page(0), page(1)])
    assert answer["text"] == "a\nb\fc" and answer["mode"] == "page"
    assert [(line["text"], line["page"]) for line in answer["lines"]] == [("a", 1), ("b", 1), ("c", 2)]
    # each page's size as it was read: page 2 was turned a quarter to be read upright
    assert [(p["page"], p["width"], p["height"], p["dpi"], p["rotation"]) for p in answer["pages"]] == [
        (1, 100, 50, 200.0, 0), (2, 60, 120, 200.0, 90)]
    assert answer["warnings"] == [{**doubt, "page": 2}] and all("warnings" not in p for p in answer["pages"])


def test_a_pdf_of_one_page_is_a_document_an_image_is_not():
    assert Opened([page(0)]).document
    assert Opened([page(0, "TIFF", None), page(1, "TIFF", None)]).document
    assert not Opened([page(0, "PNG", None)]).document
