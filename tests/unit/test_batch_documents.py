"""The batch job's documents without Spark: a file split into the images its model reads (ocrops.batch.documents)
and a file's rows rebuilt into the answer the service gives (ocrops.batch.exports)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hostile import encrypted_pdf, multipage_tiff
from PIL import Image

from conftest import line_image
from ocrops.batch.documents import split
from ocrops.batch.exports import answers
from ocrops.data.documents import DocumentLimits, open_document, pdf_from_images
from ocrops.errors import ErrorCode, OcropsError


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_image_is_read_as_it_is():
    data = png(line_image("Sodium 141 mmol/L"))
    [only] = split(data, DocumentLimits())
    assert only.page is None and only.image == data and only.error_code is None


def test_a_pdf_is_a_png_per_page_as_the_service_renders_it():
    pages = [line_image("Sodium 141 mmol/L", size=(800, 300)), line_image("Albumin 38 g/L", size=(800, 300))]
    pdf = pdf_from_images(pages, dpi=200)
    limits = DocumentLimits(pdf_dpi=200)
    found = split(pdf, limits)
    assert [p.page for p in found] == [1, 2]
    for entry, page, served in zip(found, pages, open_document(pdf, limits), strict=True):
        with Image.open(io.BytesIO(entry.image)) as picture:
            assert picture.format == "PNG" and picture.size == (served.header.width, served.header.height)
            # lossless: the pixels the service reads, not a recompressed copy
            assert np.array_equal(np.asarray(picture.convert("RGB")), np.asarray(served.load()))
            assert np.abs(np.asarray(picture.convert("RGB"), float) - np.asarray(page, float)).mean() < 3


def test_a_multipage_tiff_is_a_row_per_page_and_a_bad_document_one_row_with_its_code():
    assert [p.page for p in split(multipage_tiff(3), DocumentLimits())] == [1, 2, 3]
    [locked] = split(encrypted_pdf(), DocumentLimits())
    assert (locked.page, locked.image, locked.error_code) == (None, b"", ErrorCode.UNREADABLE_IMAGE)
    assert "encrypted" in locked.error
    [long] = split(multipage_tiff(3), DocumentLimits(max_pages=2))
    assert long.error_code == ErrorCode.TOO_LARGE and "exceeds 2" in long.error


def row(path: str, page: float | None, text: str, width: float | None = 100.0, code: float | None = None,
        mode: str = "page", rotation: float = 0.0) -> dict:
    """One Parquet row as pandas reads it back (lines and boxes as numpy arrays)."""
    box = [np.array([0.0, 0.0]), np.array([10.0, 0.0]), np.array([10.0, 5.0]), np.array([0.0, 5.0])]
    lines = [] if code else [{"text": text, "raw_text": text, "confidence": 0.9, "box": np.array(box)}]
    return {"path": path, "page": page, "text": text, "mode": mode, "lines": np.array(lines, dtype=object),
            "width": width, "height": 50.0, "rotation": rotation, "error_code": code}


def test_a_files_rows_become_the_answer_the_service_gives():
    frame = pd.DataFrame([row("file:/a/doc.pdf", 2, "second", rotation=180.0),
                          row("file:/a/bad.png", None, "", None, 4001.0, mode=""),
                          row("file:/a/doc.pdf", 1, "first"), row("file:/a/line.png", None, "x", 30.0, mode="line")])
    found = dict(answers(frame))
    assert found["file:/a/bad.png"] == 4001
    document = found["file:/a/doc.pdf"]
    assert [p["page"] for p in document["pages"]] == [1, 2] and document["text"] == "first\fsecond"
    assert document["pages"][1]["rotation"] == 180 and document["lines"][1]["page"] == 2
    assert document["pages"][0]["lines"][0]["box"] == [[0.0, 0.0], [10.0, 0.0], [10.0, 5.0], [0.0, 5.0]]
    line = found["file:/a/line.png"]
    assert "pages" not in line and (line["mode"], line["width"], line["height"], line["text"]) == ("line", 30, 50, "x")


def test_rows_without_page_sizes_are_refused_for_documents():
    frame = pd.DataFrame([row("file:/a/line.png", None, "x", None, mode="line")])
    with pytest.raises(OcropsError) as refused:
        list(answers(frame))
    assert refused.value.code == ErrorCode.UNAVAILABLE and "registered before" in refused.value.message
