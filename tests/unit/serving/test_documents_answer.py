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
    results = [{"mode": "page", "text": "a\nb", "lines": [{"text": "a"}, {"text": "b"}], "warnings": []},
               {"mode": "page", "text": "c", "lines": [{"text": "c"}], "warnings": ["page mostly unread"]}]
    pictures = [Image.new("RGB", (100, 50)), Image.new("RGB", (120, 60))]
    answer = document_result(results, [page(0), page(1)], pictures)
    assert answer["text"] == "a\nb\fc" and answer["mode"] == "page"
    assert [(line["text"], line["page"]) for line in answer["lines"]] == [("a", 1), ("b", 1), ("c", 2)]
    assert [(p["page"], p["width"], p["height"], p["dpi"]) for p in answer["pages"]] == [(1, 100, 50, 200.0),
                                                                                        (2, 120, 60, 200.0)]
    assert answer["warnings"] == ["page mostly unread"] and all("warnings" not in p for p in answer["pages"])


def test_a_pdf_of_one_page_is_a_document_an_image_is_not():
    assert Opened([page(0)]).document
    assert Opened([page(0, "TIFF", None), page(1, "TIFF", None)]).document
    assert not Opened([page(0, "PNG", None)]).document
