"""Documents as people send them -> pages to read: an image (one page), a multi-page TIFF (every page), a PDF
(every page rendered by PDFium). Each page's size is known before a pixel is decoded or rendered, so limits
refuse a document before it costs anything; a page's pixels are made by its ``load``, later, where the caller
runs heavy work.

PDFium may not be called from two threads at once, not even on two documents: every call holds one lock.
"""

from __future__ import annotations

import io
import math
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PIL import Image

from ocrops.data.images import ImageHeader, ImageLimits, check_size, decode, inspect, read_header
from ocrops.errors import ErrorCode, OcropsError

PDF_MAGIC = b"%PDF-"
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8", b"II*\x00", b"MM\x00*", b"RIFF", b"BM")
POINTS_PER_INCH = 72
PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class DocumentLimits:
    image: ImageLimits = ImageLimits()
    max_pages: int = 20  # pages of one PDF or TIFF (5001 above)
    pdf_dpi: int = 200  # PDF pages are rendered at this resolution, lower where a page would pass the pixel limits


@dataclass
class Page:
    """One page of a document: its size (from the header, or a PDF page's size at the rendering resolution),
    its pixels not yet made."""

    index: int  # 0-based, within its document
    header: ImageHeader
    load: Callable[[], Image.Image] = field(repr=False)  # -> upright RGB: decode, or render
    dpi: float | None = None  # PDF: the resolution it is rendered at

    @property
    def pixels(self) -> int:
        return self.header.pixels


def is_pdf(data: bytes) -> bool:
    # the header may follow a little junk (PDF readers look in the first 1,024 bytes); an image whose metadata
    # happens to hold the marker stays an image
    return PDF_MAGIC in data[:1024] and not data.startswith(_IMAGE_MAGIC)


def open_document(data: bytes, limits: DocumentLimits = DocumentLimits()) -> list[Page]:
    """An untrusted file's pages, checked against ``limits`` before any pixel is made: 4001 when it is neither a
    supported image nor a readable PDF (encrypted, broken), 4002 for a PDF without pages, 5001 past a limit."""
    if limits.image.max_bytes is not None and len(data) > limits.image.max_bytes:
        raise OcropsError(ErrorCode.TOO_LARGE, f"file is {len(data)} bytes, limit {limits.image.max_bytes}")
    if is_pdf(data):
        return _pdf_pages(data, limits)
    image, header = inspect(data, limits.image)
    if header.pages == 1:
        return [Page(0, header, lambda: decode(image))]
    return _tiff_pages(data, header, limits)


def _too_many(kind: str, pages: int | str, limits: DocumentLimits) -> OcropsError:
    return OcropsError(ErrorCode.TOO_LARGE, f"{kind} of {pages} pages exceeds {limits.max_pages}; send it in parts")


def _tiff_pages(data: bytes, first: ImageHeader, limits: DocumentLimits) -> list[Page]:
    if first.pages > limits.max_pages:
        raise _too_many("a TIFF", first.pages if first.pages <= 100 else "more than 100", limits)
    image, *_ = read_header(data)
    headers = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for index in range(first.pages):
            image.seek(index)  # reads the page's directory, not its pixels
            width, height = image.size
            if width == 0 or height == 0:
                raise OcropsError(ErrorCode.UNREADABLE_IMAGE, f"unreadable image: TIFF page {index + 1} is empty")
            check_size(width, height, limits.image)
            headers.append(ImageHeader(first.format, image.mode, width, height, first.pages, 1))

    def load(index: int) -> Image.Image:
        page, *_ = read_header(data)  # an image of its own: a shared one's page pointer is not thread-safe
        page.seek(index)
        return decode(page)

    return [Page(i, header, lambda i=i: load(i)) for i, header in enumerate(headers)]


NO_PAGES = "the PDF has no pages"


# a page tree root that says it has no pages: PDFium refuses to load such a file without an error of its own (it
# reports the last one, of whatever failed before), so the refusal looks for it to say why
_EMPTY_TREE = re.compile(rb"/Type\s*/Pages\b[^>]*/Count\s+0\b|/Count\s+0\b[^>]*/Type\s*/Pages\b")


def _pdf_error(exc: Exception, data: bytes) -> OcropsError:
    message = str(exc)
    if _EMPTY_TREE.search(data):
        return OcropsError(ErrorCode.INVALID_INPUT, NO_PAGES)
    if "password" in message.lower():
        return OcropsError(ErrorCode.UNREADABLE_IMAGE, "unreadable PDF: it is encrypted (password protected); "
                                                       "send it without a password")
    reason = message.removeprefix("Failed to load document").strip(" ().").removeprefix("PDFium: ")
    return OcropsError(ErrorCode.UNREADABLE_IMAGE, f"unreadable PDF: {reason.lower()} (broken or truncated?)")


@contextmanager
def open_pdf(data: bytes) -> Iterator:
    """The PDF opened by PDFium, the lock held until it is closed; 4001/4002 when it does not open."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise _pdf_error(exc, data) from exc
        try:
            yield document
        finally:
            document.close()


def _pdf_pages(data: bytes, limits: DocumentLimits) -> list[Page]:
    with open_pdf(data) as document:
        count = len(document)
        if count > limits.max_pages:
            raise _too_many("a PDF", count, limits)
        sizes = [document.get_page_size(i) for i in range(count)]  # from the page tree: nothing rendered
    if not sizes:
        raise OcropsError(ErrorCode.INVALID_INPUT, NO_PAGES)
    pages = []
    for index, (width_pt, height_pt) in enumerate(sizes):
        if not (width_pt > 0 and height_pt > 0):
            raise OcropsError(ErrorCode.UNREADABLE_IMAGE, f"unreadable PDF: page {index + 1} has no area")
        scale = render_scale(width_pt, height_pt, limits)
        width, height = rendered_size(width_pt, height_pt, scale)
        pages.append(Page(index, ImageHeader("PDF", "RGB", width, height, count), lambda i=index, s=scale:
                          render_page(data, i, s), dpi=round(scale * POINTS_PER_INCH, 2)))
    return pages


def render_scale(width_pt: float, height_pt: float, limits: DocumentLimits) -> float:
    """Pixels per point: ``pdf_dpi``, lowered so the page stays within the side and pixel limits."""
    scale = min(limits.pdf_dpi / POINTS_PER_INCH, limits.image.max_side / max(width_pt, height_pt),
                math.sqrt(limits.image.max_pixels / (width_pt * height_pt)))
    scale *= 1 - 1e-5  # a side of a whole number of pixels at the dpi stays that number (sizes are float32)
    while True:  # PDFium rounds a rendered side up: that must not pass a limit either
        width, height = rendered_size(width_pt, height_pt, scale)
        if max(width, height) <= limits.image.max_side and width * height <= limits.image.max_pixels:
            return scale
        scale *= 0.999


def rendered_size(width_pt: float, height_pt: float, scale: float) -> tuple[int, int]:
    return max(1, math.ceil(width_pt * scale)), max(1, math.ceil(height_pt * scale))


def render_page(data: bytes, index: int, scale: float) -> Image.Image:
    """One PDF page as RGB on white paper, its /Rotate applied."""
    with open_pdf(data) as document:
        page = document[index]
        try:
            bitmap = page.render(scale=scale, may_draw_forms=False)
            try:
                return bitmap.to_pil().convert("RGB")  # a copy: the bitmap's buffer goes with it
            finally:
                bitmap.close()
        finally:
            page.close()


def pdf_from_images(images: list[Image.Image | bytes], dpi: float = 200) -> bytes:
    """A PDF with one image per page at ``dpi``, as a scanner makes them: a JPEG file's bytes are embedded as they
    are, an image losslessly. For tests and examples."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        document = pdfium.PdfDocument.new()
        try:
            for image in images:
                picture = pdfium.PdfImage.new(document)
                if isinstance(image, Image.Image):
                    size = image.size
                    picture.set_bitmap(pdfium.PdfBitmap.from_pil(image.convert("RGB")))
                else:
                    with Image.open(io.BytesIO(image)) as opened:
                        size = opened.size
                    picture.load_jpeg(io.BytesIO(image), inline=True)
                width, height = (side * POINTS_PER_INCH / dpi for side in size)
                page = document.new_page(width, height)
                picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
                page.insert_obj(picture)
                page.gen_content()
                page.close()
            out = io.BytesIO()
            document.save(out)
        finally:
            document.close()
    return out.getvalue()
