"""A batch job's files -> the images its model reads: an image as it is, a PDF or a multi-page TIFF as one
lossless PNG per page, rendered as the service renders them (``serve.pdf_dpi`` within the pixel limits), so a
page's row equals the service's answer for that page."""

from __future__ import annotations

import io
from dataclasses import dataclass

from ocrops.config import Params
from ocrops.data.documents import DocumentLimits, is_pdf, open_document
from ocrops.data.images import ImageLimits, count_pages, read_header
from ocrops.errors import OcropsError

# the Spark type of split()'s answer: one entry per page
PAGES_TYPE = "array<struct<page:int,image:binary,error_code:int,error:string>>"


@dataclass(frozen=True)
class PageImage:
    page: int | None  # 1-based within its document; None for a plain image
    image: bytes  # what the model reads (empty when the file failed)
    error_code: int | None = None
    error: str | None = None


def limits_for(params: Params) -> DocumentLimits:
    s = params.serve
    return DocumentLimits(ImageLimits(max_side=s.max_side, max_pixels=s.max_pixels), params.batch.max_pages,
                          s.pdf_dpi)


def _multipage(data: bytes) -> bool:
    if is_pdf(data):
        return True
    try:
        image, fmt, *_ = read_header(data)
    except OcropsError:  # not an image: the model's own decoding says why, with its code
        return False
    return fmt == "TIFF" and count_pages(image, cap=1) > 1


def split(data: bytes, limits: DocumentLimits) -> list[PageImage]:
    """A file's pages; a document that cannot be opened is one entry with its code (4001 unreadable, 4002 no
    pages, 5001 past a limit)."""
    if not _multipage(data):
        return [PageImage(None, data)]  # the bytes themselves: the model decodes them as the service does
    try:
        pages = open_document(data, limits)
        out = []
        for page in pages:
            buffer = io.BytesIO()
            page.load().save(buffer, format="PNG", compress_level=1)
            out.append(PageImage(page.index + 1, buffer.getvalue()))
        return out
    except OcropsError as exc:
        return [PageImage(None, b"", int(exc.code), exc.message)]
