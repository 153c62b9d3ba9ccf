"""A searchable PDF: the document's own pages with an invisible text layer on them, each line's text on its box,
as OCRmyPDF makes them. A PDF that came in keeps its pages as they are (the layer is added on top); images
become pages at their resolution (a JPEG embedded as it is, other images losslessly)."""

from __future__ import annotations

import ctypes
import io

from PIL import Image

from ocrops.data.documents import PDFIUM_LOCK, POINTS_PER_INCH, DocumentLimits, is_pdf, open_document, open_pdf
from ocrops.data.images import ImageLimits
from ocrops.formats.invisible_font import ADVANCE, DESCENT, UNITS_PER_EM, invisible_font
from ocrops.formats.layout import PageLayout, Point

DEFAULT_DPI = 300  # an image without a resolution of its own: a scanner's usual one


def as_read(pdf_dpi: float = 200) -> DocumentLimits:
    """Limits for making a file into pages again: it was checked against the service's when it was read."""
    return DocumentLimits(ImageLimits(max_side=1 << 20, max_pixels=1 << 40, max_jpeg_scans=1 << 20), 1 << 20,
                          pdf_dpi)


def searchable_pdf(pages: list[PageLayout], source: bytes) -> bytes:
    """``source`` (the file that was read: a PDF or an image) with ``pages``' lines as invisible text."""
    import pypdfium2 as pdfium

    characters = "".join(line.text for page in pages for line in page.lines)
    font_data = invisible_font(characters)
    if is_pdf(source):
        with open_pdf(source) as document:
            return _with_text(document, pages, font_data, pdfium)
    pictures = _pictures(source)
    with PDFIUM_LOCK:
        document = pdfium.PdfDocument.new()
        try:
            for layout, (picture, jpeg) in zip(pages, pictures, strict=True):
                _image_page(document, layout, picture, jpeg, pdfium)
            return _with_text(document, pages, font_data, pdfium)
        finally:
            document.close()


def _pictures(source: bytes) -> list[tuple[Image.Image, bytes | None]]:
    """Each page's upright picture, and a JPEG's bytes where they can go into the PDF as they are (no EXIF
    turn to apply: a PDF viewer does not read EXIF)."""
    pages = open_document(source, as_read())
    pictures = [page.load() for page in pages]
    jpeg = None
    if len(pages) == 1 and pages[0].header.format == "JPEG" and pages[0].header.mode in ("RGB", "L"):
        with Image.open(io.BytesIO(source)) as opened:
            if opened.getexif().get(0x0112, 1) == 1:
                jpeg = source
    return [(pictures[0], jpeg)] if jpeg else [(p, None) for p in pictures]


def _image_page(document, layout: PageLayout, picture: Image.Image, jpeg: bytes | None, pdfium) -> None:
    dpi = layout.dpi or _dpi(picture)
    width, height = (side * POINTS_PER_INCH / dpi for side in picture.size)
    image = pdfium.PdfImage.new(document)
    if jpeg is not None:
        image.load_jpeg(io.BytesIO(jpeg), inline=True)
    else:
        image.set_bitmap(pdfium.PdfBitmap.from_pil(picture))
    image.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page = document.new_page(width, height)
    try:
        page.insert_obj(image)
        page.gen_content()
    finally:
        page.close()


def _dpi(picture: Image.Image) -> float:
    dpi = picture.info.get("dpi")
    try:
        x = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        x = 0.0
    return x if 50 <= x <= 2400 else DEFAULT_DPI


def _with_text(document, pages: list[PageLayout], font_data: bytes, pdfium) -> bytes:
    raw = pdfium.raw
    buffer = (ctypes.c_uint8 * len(font_data)).from_buffer_copy(font_data)
    font = raw.FPDFText_LoadFont(document.raw, buffer, len(font_data), raw.FPDF_FONT_TRUETYPE, True)
    if not font:
        raise RuntimeError("PDFium refused the text layer's font")
    try:
        for layout in pages:
            page = document[layout.number - 1]
            try:
                if layout.rotation:  # shown as it was read: upright, and the boxes are in that frame
                    page.set_rotation((page.get_rotation() + layout.rotation) % 360)
                for line in layout.lines:
                    if line.text.strip():
                        _place(document, page, font, layout, line, raw)
                page.gen_content()
            finally:
                page.close()
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()
    finally:
        raw.FPDFFont_Close(font)


def _place(document, page, font, layout: PageLayout, line, raw) -> None:
    """One line as invisible text: its glyphs stretched over the box's length, ascent to descent its height."""
    def to_page(point: Point) -> tuple[float, float]:
        x, y = ctypes.c_double(), ctypes.c_double()
        raw.FPDF_DeviceToPage(page.raw, 0, 0, layout.width, layout.height, 0, round(point[0]), round(point[1]),
                              ctypes.byref(x), ctypes.byref(y))
        return x.value, y.value

    top_left, _, bottom_right, bottom_left = (to_page(p) for p in line.quad)
    ux, uy = bottom_right[0] - bottom_left[0], bottom_right[1] - bottom_left[1]  # along the line
    vx, vy = top_left[0] - bottom_left[0], top_left[1] - bottom_left[1]  # up, one line height
    advance = len(line.text) * ADVANCE / UNITS_PER_EM
    rise = -DESCENT / UNITS_PER_EM
    text = raw.FPDFPageObj_CreateTextObj(document.raw, font, ctypes.c_float(1.0))
    encoded = (line.text + "\0").encode("utf-16-le")
    raw.FPDFText_SetText(text, ctypes.cast(ctypes.create_string_buffer(encoded, len(encoded)),
                                           ctypes.POINTER(raw.FPDF_WCHAR)))
    raw.FPDFTextObj_SetTextRenderMode(text, raw.FPDF_TEXTRENDERMODE_INVISIBLE)
    raw.FPDFPageObj_Transform(text, ux / advance, uy / advance, vx, vy,
                              bottom_left[0] + rise * vx, bottom_left[1] + rise * vy)
    raw.FPDFPage_InsertObject(page.raw, text)
