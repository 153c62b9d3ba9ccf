"""The output formats, written from a perfect reading (the pages' labels) and checked with the tools their users
check them with: the published XSDs (ALTO 4.4, PAGE-XML 2019), the hOCR specification's validator, poppler's
pdftotext and PDFium for the searchable PDF, and `data import-pages` for PAGE-XML and ALTO round trips (images
and PDFs)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile

import numpy as np
import pytest
from lxml import etree
from output_checks import assert_words_on_their_lines, pdftotext, schema
from PIL import Image

from conftest import write_pages
from ocrops.data.documents import pdf_from_images, render_page
from ocrops.data.page_importers import import_page_xml
from ocrops.data.pages import read_pages
from ocrops.formats import Format, from_accept, render


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[tuple[Image.Image, dict]]:
    """Two rendered report pages (a scan and a photo) with answers as a perfect reader would give them."""
    root = write_pages(tmp_path_factory.mktemp("pages"), ["test", "test"], seed=11)
    rows, _ = read_pages(root)
    out = []
    for row in rows:
        with Image.open(root / row.image) as opened:
            from ocrops.data.images import to_rgb

            picture = to_rgb(opened)
        lines = [{"text": line.text, "raw_text": line.text, "confidence": 0.97,
                  "box": [list(map(float, p)) for p in line.points]} for line in row.lines]
        out.append((picture, {"mode": "page", "text": "\n".join(line["text"] for line in lines), "lines": lines,
                              "width": picture.width, "height": picture.height}))
    return out


def document_answer(pages: list[tuple[Image.Image, dict]], dpi: float | None = None) -> dict:
    entries = [{"page": k, "width": p.width, "height": p.height, **({"dpi": dpi} if dpi else {}),
                "text": a["text"], "lines": a["lines"]} for k, (p, a) in enumerate(pages, 1)]
    return {"mode": "page", "text": "\f".join(a["text"] for _, a in pages),
            "lines": [{**line, "page": e["page"]} for e in entries for line in e["lines"]], "pages": entries}


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def test_alto_and_page_xml_validate_against_the_published_schemas(pages) -> None:
    answer = document_answer(pages, dpi=200)
    source = pdf_from_images([p for p, _ in pages], dpi=200)
    alto = render(Format.alto, answer, source, "scan.pdf")
    document = etree.fromstring(alto.body)
    schema("alto-4-4.xsd").assertValid(document)
    assert len(document.findall(".//{*}Page")) == 2
    assert len(document.findall(".//{*}TextLine")) == sum(len(a["lines"]) for _, a in pages)

    zipped = render(Format.page_xml, answer, source, "scan.pdf")
    assert zipped.media_type == "application/zip"
    page_schema = schema("pagecontent-2019-07-15.xsd")
    with zipfile.ZipFile(io.BytesIO(zipped.body)) as archive:
        names = sorted(archive.namelist())
        assert names == ["scan_p0001.xml", "scan_p0002.xml"]
        for name in names:
            page_schema.assertValid(etree.fromstring(archive.read(name)))
    # the checks can fail: a line without its required Coords is refused by the schema
    broken = etree.fromstring(render(Format.page_xml, pages[0][1], png(pages[0][0]), "a.png").body)
    coords = broken.find(".//{*}TextLine/{*}Coords")
    coords.getparent().remove(coords)
    assert not page_schema.validate(broken)


def test_hocr_passes_the_specification_validator(pages, tmp_path) -> None:
    from hocr_spec import HocrValidator

    answer = document_answer(pages)
    out = tmp_path / "scan.hocr"
    out.write_bytes(render(Format.hocr, answer, b"", "scan.tiff").body)
    report = HocrValidator("standard").validate(str(out), parse_strict=True)
    assert report.is_valid(), report.format("text")
    words = etree.parse(str(out), etree.HTMLParser()).getroot().xpath("//span[@class='ocrx_word']")
    assert " ".join(w.text for w in words) == " ".join(answer["text"].split())
    # a word whose bbox is not four numbers is an error to the validator
    out.write_text(out.read_text(encoding="utf-8").replace("bbox", "bbox x", 1), encoding="utf-8")
    assert not HocrValidator("standard").validate(str(out), parse_strict=True).is_valid()


def test_a_searchable_pdf_of_images_gives_back_its_text_on_its_boxes(pages, tmp_path) -> None:
    picture, answer = pages[0]
    pdf = render(Format.pdf, answer, png(picture.copy()), "page.png").body
    assert pdftotext(pdf, tmp_path, "-raw").split() == answer["text"].split()
    assert_words_on_their_lines(pdf, pages[:1], 300, tmp_path)  # a PNG without a resolution: 300 dpi
    jpeg = io.BytesIO()
    picture.save(jpeg, format="JPEG", quality=90, dpi=(150, 150))
    as_is = render(Format.pdf, answer, jpeg.getvalue(), "page.jpg").body
    assert jpeg.getvalue() in as_is  # the scan's JPEG is embedded as it is, not re-encoded
    assert_words_on_their_lines(as_is, pages[:1], 150, tmp_path)


def test_a_searchable_pdf_keeps_a_pdfs_own_pages_and_adds_the_text(pages, tmp_path) -> None:
    import pypdfium2 as pdfium

    source = pdf_from_images([p for p, _ in pages], dpi=200)
    pdf = render(Format.pdf, document_answer(pages, dpi=200), source, "scan.pdf").body
    assert pdftotext(source, tmp_path).strip() == ""  # a scan: no text before
    # content-stream order, page by page (-raw joins a table row's cells with spaces)
    assert [t.split() for t in pdftotext(pdf, tmp_path, "-raw").split("\f")[:2]] == [a["text"].split()
                                                                                    for _, a in pages]
    assert_words_on_their_lines(pdf, pages, 200, tmp_path)
    document = pdfium.PdfDocument(pdf)
    try:  # PDFium reads the same text, in reading order, and the pages look as before
        for index, (_, answer) in enumerate(pages):
            text = document[index].get_textpage().get_text_bounded()
            assert text.split() == answer["text"].split()
    finally:
        document.close()
    assert render_page(pdf, 0, 200 / 72).tobytes() == render_page(source, 0, 200 / 72).tobytes()


def test_a_turned_pdf_page_gets_its_text_where_it_is_shown(pages, tmp_path) -> None:
    """A page stored sideways with /Rotate 90 (as some scanners save them): the boxes are in the page as shown."""
    import pypdfium2 as pdfium

    picture, answer = pages[0]
    stored = pdf_from_images([picture.transpose(Image.Transpose.ROTATE_90)], dpi=200)
    document = pdfium.PdfDocument(stored)
    document[0].set_rotation(90)
    out = io.BytesIO()
    document.save(out)
    document.close()
    turned = out.getvalue()
    shown = render_page(turned, 0, 200 / 72)
    assert shown.size == picture.size
    answer = {**answer, "pages": [{"page": 1, "width": picture.width, "height": picture.height, "dpi": 200,
                                   "lines": answer["lines"]}]}
    pdf = render(Format.pdf, answer, turned, "turned.pdf").body
    assert_words_on_their_lines(pdf, pages[:1], 200, tmp_path)


def test_page_xml_comes_back_through_import_pages(pages, tmp_path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    for k, (picture, answer) in enumerate(pages):
        picture.save(folder / f"page{k}.png")
        (folder / f"page{k}.xml").write_bytes(render(Format.page_xml, answer, b"", f"page{k}.png").body)
    result = import_page_xml(folder, tmp_path / "imported")
    assert result.imported == 2 and not result.rejected
    rows, _ = read_pages(tmp_path / "imported")
    for row, (_, answer) in zip(sorted(rows, key=lambda r: r.image), pages, strict=True):
        assert_same_lines(row, answer)


def bounds(points) -> list[float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def assert_same_lines(row, answer: dict, boxes_only: bool = False) -> None:
    """The same lines, each where it was (within half a pixel; ALTO: its box, within one, as ALTO keeps whole
    pixels and boxes)."""
    assert [line.text for line in row.lines] == [line["text"] for line in answer["lines"]]
    for line, expected in zip(row.lines, answer["lines"], strict=True):
        ours, theirs, within = line.points, expected["box"], 0.5
        if boxes_only:
            ours, theirs, within = [bounds(ours)], [bounds(theirs)], 1.0
        assert all(abs(a - b) <= within for p, q in zip(ours, theirs, strict=True)
                   for a, b in zip(p, q, strict=True)), (line.points, expected["box"])


def test_a_pdf_with_its_alto_or_page_xml_per_page_becomes_a_page_dataset(pages, tmp_path) -> None:
    """An archive's PDF beside one ALTO file for the document (a Page per page) or a PAGE-XML file per page:
    each page rendered at the size the file declares, its lines where they were."""
    pdf = pdf_from_images([picture for picture, _ in pages], dpi=200)
    alto, per_page = tmp_path / "alto", tmp_path / "page-xml"
    for folder in (alto, per_page):
        folder.mkdir()
        (folder / "scan.pdf").write_bytes(pdf)
    (alto / "scan.xml").write_bytes(render(Format.alto, document_answer(pages, 200), pdf, "scan.pdf").body)
    for k, (_, answer) in enumerate(pages, 1):
        (per_page / f"scan_{k:04d}.xml").write_bytes(render(Format.page_xml, answer, b"", "scan.pdf").body)
    for folder in (alto, per_page):
        result = import_page_xml(folder, tmp_path / f"{folder.name}-imported")
        assert result.imported == 2 and not result.rejected, result.rejected
        rows, _ = read_pages(tmp_path / f"{folder.name}-imported")
        for row, (picture, answer) in zip(sorted(rows, key=lambda r: r.image), pages, strict=True):
            with Image.open(tmp_path / f"{folder.name}-imported" / row.image) as rendered:
                assert rendered.size == picture.size  # and it is that page, not another
                assert np.abs(np.asarray(rendered.convert("RGB"), float) - np.asarray(picture, float)).mean() < 3
            assert_same_lines(row, answer, boxes_only=folder is alto)
    # a PAGE-XML file that does not say which page of a 2-page PDF is listed, not guessed
    (per_page / "scan_0001.xml").rename(per_page / "scan.xml")
    (per_page / "scan_0002.xml").write_bytes(b"<not xml")
    result = import_page_xml(per_page, tmp_path / "unclear")
    assert result.imported == 0
    assert {r["source"] for r in result.rejected} == {"scan.xml", "scan_0002.xml"}
    assert "which of the PDF's 2 pages" in next(r["reason"] for r in result.rejected if r["source"] == "scan.xml")


def test_text_json_and_what_accept_asks_for(pages) -> None:
    picture, answer = pages[0]
    assert render(Format.txt, answer, b"", "a.png").body.decode() == answer["text"] + "\n"
    assert json.loads(render(Format.json, answer, b"", "a.png").body) == answer
    assert from_accept("application/pdf") is Format.pdf
    assert from_accept("text/html;q=0.9, application/xml") is Format.hocr
    assert from_accept("application/vnd.prima.page+xml") is Format.page_xml
    assert from_accept("application/json") is Format.json
    assert from_accept("*/*") is None and from_accept(None) is None


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make tools)")
def test_pdftotext_is_there() -> None:
    assert subprocess.run(["pdftotext", "-v"], capture_output=True).returncode == 0
