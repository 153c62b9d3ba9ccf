"""Documents -> pages (ocrops.data.documents): PDF pages sized and refused before anything is rendered, rendered
within the pixel limits, multi-page TIFFs read page by page; real PDFium, PDFs made here (PDFium for scans,
ReportLab for born-digital text and encryption)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from conftest import line_image
from ocrops.data.documents import DocumentLimits, open_document, pdf_from_images
from ocrops.data.images import ImageLimits
from ocrops.errors import ErrorCode, OcropsError


def text_pdf(pages: int = 1, size: tuple[float, float] = (595, 842), encrypt: str | None = None) -> bytes:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, encrypt=encrypt)
    for k in range(pages):
        pdf.setFont("Helvetica", 14)
        pdf.drawString(72, size[1] - 100, f"Page {k + 1}: Hemoglobin 13.5 g/dL")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def code_of(data: bytes, limits: DocumentLimits = DocumentLimits()) -> tuple[int, str]:
    with pytest.raises(OcropsError) as caught:
        open_document(data, limits)
    return int(caught.value.code), caught.value.message


def test_a_pdf_of_page_images_gives_back_their_pixels():
    scans = [line_image(f"page {k}", (620 + k, 877)).convert("RGB") for k in range(3)]
    pages = open_document(pdf_from_images(scans, dpi=200), DocumentLimits(pdf_dpi=200))
    assert [p.index for p in pages] == [0, 1, 2] and [p.dpi for p in pages] == [pytest.approx(200)] * 3
    for page, scan in zip(pages, scans, strict=True):
        image = page.load()
        assert (page.header.width, page.header.height) == image.size == scan.size  # admitted = rendered
        assert np.array_equal(np.asarray(image), np.asarray(scan))


def test_a_scanned_pdf_of_jpeg_pages_reads_as_the_jpegs():
    scan = line_image("a scanned page", (620, 877)).convert("RGB")
    buf = io.BytesIO()
    scan.save(buf, "JPEG", quality=85)
    [page] = open_document(pdf_from_images([buf.getvalue()], dpi=200), DocumentLimits(pdf_dpi=200))
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32)
    assert np.abs(np.asarray(page.load(), np.float32) - decoded).mean() < 1  # PDFium's JPEG decoder


def test_pages_are_rendered_at_the_dpi_unless_the_pixel_limits_say_less():
    a4 = open_document(text_pdf(), DocumentLimits(pdf_dpi=150))[0]
    assert a4.header.width == 1240 and a4.dpi == pytest.approx(150)  # 595 pt x 150/72
    limits = DocumentLimits(ImageLimits(max_side=5000, max_pixels=25_000_000), pdf_dpi=200)
    huge = open_document(text_pdf(size=(20_000, 20_000)), limits)[0]  # a 7 m square page
    assert huge.header.width <= 5000 and huge.header.pixels <= 25_000_000 and huge.dpi <= 18
    assert huge.load().size == (huge.header.width, huge.header.height)


def test_refusals_name_what_is_wrong_before_rendering():
    assert code_of(text_pdf(encrypt="secret"))[0] == ErrorCode.UNREADABLE_IMAGE
    assert "encrypted" in code_of(text_pdf(encrypt="secret"))[1]
    whole = text_pdf()
    assert code_of(whole[: len(whole) // 3])[0] == ErrorCode.UNREADABLE_IMAGE  # truncated
    assert code_of(pdf_from_images([])) == (ErrorCode.INVALID_INPUT, "the PDF has no pages")
    many = text_pdf(pages=1000)
    started = time.perf_counter()
    code, message = code_of(many)
    assert code == ErrorCode.TOO_LARGE and "1000 pages" in message
    assert time.perf_counter() - started < 5  # counted from the page tree, nothing rendered
    assert code_of(b"x" * 200, DocumentLimits(ImageLimits(max_bytes=100)))[0] == ErrorCode.TOO_LARGE


def test_a_multipage_tiff_is_read_page_by_page():
    frames = [line_image(f"page {k}", (300 + 50 * k, 60)) for k in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    pages = open_document(buf.getvalue())
    assert [(p.header.width, p.header.height) for p in pages] == [(300, 60), (350, 60), (400, 60)]
    assert [p.load().size for p in reversed(pages)] == [(400, 60), (350, 60), (300, 60)]  # any order
    assert code_of(buf.getvalue(), DocumentLimits(max_pages=2))[0] == ErrorCode.TOO_LARGE


def test_an_image_is_one_page():
    buf = io.BytesIO()
    line_image("one line").save(buf, format="PNG")
    [page] = open_document(buf.getvalue())
    assert page.header.format == "PNG" and page.dpi is None and isinstance(page.load(), Image.Image)


def test_an_image_whose_metadata_mentions_a_pdf_stays_an_image():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "scanned from %PDF-1.7 by a copier")
    buf = io.BytesIO()
    line_image("one line").save(buf, format="PNG", pnginfo=info)
    assert b"%PDF-" in buf.getvalue()[:1024]
    [page] = open_document(buf.getvalue())
    assert page.header.format == "PNG"
