"""Documents out: a read document's answer written as plain text, JSON, hOCR, ALTO 4, PAGE-XML 2019 or a searchable
PDF. The service (``format`` field or ``Accept`` header), ``ocrops predict --format`` and the batch job write
through ``render``; every format but JSON is built from the answer and the file that was read."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath
from typing import Any

from ocrops.formats.layout import PageLayout, pages_of


class Format(StrEnum):
    txt = "txt"
    json = "json"
    hocr = "hocr"
    alto = "alto"
    page_xml = "page-xml"
    pdf = "pdf"


MEDIA_TYPES = {
    Format.txt: "text/plain; charset=utf-8",
    Format.json: "application/json",
    Format.hocr: "text/vnd.hocr+html; charset=utf-8",
    Format.alto: "application/alto+xml",
    Format.page_xml: "application/vnd.prima.page+xml",
    Format.pdf: "application/pdf",
}
SUFFIXES = {Format.txt: ".txt", Format.json: ".json", Format.hocr: ".hocr", Format.alto: ".alto.xml",
            Format.page_xml: ".xml", Format.pdf: ".pdf"}
ZIP = "application/zip"
# what an Accept header may name besides the media types above
_ACCEPTED = {"text/plain": Format.txt, "application/xhtml+xml": Format.hocr, "text/html": Format.hocr,
             "application/xml": Format.alto, "text/xml": Format.alto}


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str
    filename: str


def from_accept(accept: str | None) -> Format | None:
    """The format an ``Accept`` header asks for first (None: JSON, the API's own answer, or anything)."""
    for item in (accept or "").split(","):
        media = item.split(";")[0].strip().lower()
        for fmt, known in MEDIA_TYPES.items():
            if media == known.split(";")[0]:
                return fmt
        if media in _ACCEPTED:
            return _ACCEPTED[media]
    return None


def page_image_name(stem: str, page: PageLayout, pages: int) -> str:
    """The file name of a page's picture, as PAGE-XML names it: the source itself for a one-page image."""
    return f"{stem}_p{page.number:04d}.png" if pages > 1 else f"{stem}.png"


def render(fmt: Format, answer: dict[str, Any], source: bytes, name: str = "document",
           image_name: str | None = None) -> Rendered:
    """The answer for ``source`` (the file that was read, named ``name``) in ``fmt``. PAGE-XML holds one page
    per file: a document of several pages comes as a ZIP of one XML per page. ``image_name``: what a one-page
    PAGE-XML calls its image (default: ``name``)."""
    fmt = Format(fmt)
    stem = PurePath(name).stem or "document"
    filename = stem + SUFFIXES[fmt]
    if fmt is Format.json:
        body = json.dumps(answer, ensure_ascii=False).encode()
        return Rendered(body, MEDIA_TYPES[fmt], filename)
    if fmt is Format.txt:
        return Rendered(answer["text"].encode() + b"\n", MEDIA_TYPES[fmt], filename)
    pages = pages_of(answer)
    if fmt is Format.hocr:
        from ocrops.formats.hocr import hocr

        return Rendered(hocr(pages, name), MEDIA_TYPES[fmt], filename)
    if fmt is Format.alto:
        from ocrops.formats.alto import alto

        return Rendered(alto(pages, name), MEDIA_TYPES[fmt], filename)
    if fmt is Format.pdf:
        from ocrops.formats.searchable_pdf import searchable_pdf

        return Rendered(searchable_pdf(pages, source), MEDIA_TYPES[fmt], filename)
    from ocrops.formats.page_xml import page_xml

    if len(pages) == 1 and "pages" not in answer:
        return Rendered(page_xml(pages[0], image_name or name), MEDIA_TYPES[fmt], filename)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for page in pages:
            picture = page_image_name(stem, page, len(pages))
            archive.writestr(PurePath(picture).stem + ".xml", page_xml(page, picture))
    return Rendered(out.getvalue(), ZIP, stem + ".page-xml.zip")
