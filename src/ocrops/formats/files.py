"""An answer saved as files beside each other: the format's file, or for PAGE-XML one file per page with the
picture it describes, so that the folder is a page dataset to ``ocrops data import-pages``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ocrops.data.documents import open_document
from ocrops.data.geometry import turn
from ocrops.formats import Format, page_image_name, render
from ocrops.formats.layout import PageLayout, pages_of
from ocrops.formats.page_xml import page_xml
from ocrops.formats.searchable_pdf import as_read


def page_pictures(source: bytes, pages: list[PageLayout]) -> list[Image.Image]:
    """Each page's picture as the service read it (a PDF page rendered at the answer's resolution, turned as
    it was read)."""
    opened = {}  # the document's pages at each resolution its pages were rendered at (usually one)
    pictures = []
    for layout in pages:
        dpi = layout.dpi or 200
        if dpi not in opened:
            opened[dpi] = open_document(source, as_read(dpi))
        picture = turn(opened[dpi][layout.number - 1].load(), layout.rotation)
        if picture.size != (layout.width, layout.height):  # a page the service rendered below pdf_dpi to fit
            picture = picture.resize((layout.width, layout.height), Image.Resampling.LANCZOS)
        pictures.append(picture)
    return pictures


def save(fmt: Format, answer: dict[str, Any], source: bytes, name: str, out_dir: Path) -> list[Path]:
    """The files of ``answer`` (for ``source``, a file named ``name``) in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if Format(fmt) is not Format.page_xml:
        rendered = render(fmt, answer, source, name)
        (out_dir / rendered.filename).write_bytes(rendered.body)
        return [out_dir / rendered.filename]
    pages = pages_of(answer)
    stem = Path(name).stem
    if "pages" not in answer and not pages[0].rotation:  # one image: described as it is, a copy beside its XML
        (out_dir / name).write_bytes(source)
        (out_dir / f"{stem}.xml").write_bytes(page_xml(pages[0], name))
        return [out_dir / f"{stem}.xml", out_dir / name]
    written = []
    for layout, picture in zip(pages, page_pictures(source, pages), strict=True):
        image_name = page_image_name(stem, layout, len(pages))
        picture.save(out_dir / image_name)
        (out_dir / f"{Path(image_name).stem}.xml").write_bytes(page_xml(layout, image_name))
        written += [out_dir / f"{Path(image_name).stem}.xml", out_dir / image_name]
    return written
