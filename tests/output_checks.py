"""How users check what ocrops writes: the published XSDs (ALTO 4.4, PAGE-XML 2019, bundled in tests/data/schemas)
and poppler's pdftotext for searchable PDFs."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

from lxml import etree

from ocrops.data.documents import POINTS_PER_INCH

SCHEMAS = Path(__file__).parent / "data" / "schemas"
XLINK = "http://www.loc.gov/standards/xlink/xlink.xsd"


class _LocalSchemas(etree.Resolver):
    def resolve(self, url, public_id, context):
        return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context) if url == XLINK else None


def schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser()
    parser.resolvers.add(_LocalSchemas())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


def pdftotext(pdf: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", *args, str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def words_in_points(bbox_html: str) -> list[tuple[str, list[list[float]]]]:
    """pdftotext -bbox: each page's words with (xMin, yMin, xMax, yMax) in points from the top left."""
    pages = []
    for page in re.findall(r"<page .*?</page>", bbox_html, re.S):
        pages.append([(html.unescape(w[4]), list(map(float, w[:4]))) for w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page)])
    return pages


def assert_words_on_their_lines(pdf: bytes, pages, dpi: float, tmp_path: Path) -> None:
    """Every word pdftotext finds lies inside the box of a line it belongs to (1 pt of slack), and every character
    of the answer is found. pdftotext orders words by its own layout analysis, so they are matched, not zipped;
    on a photo's slanted line it may cut a long word in two (its -raw text keeps them whole), so a piece of a word
    counts where the whole word would."""
    found = words_in_points(pdftotext(pdf, tmp_path, "-bbox"))
    assert len(found) == len(pages)
    scale = POINTS_PER_INCH / dpi
    for words, (_, answer) in zip(found, pages, strict=True):
        expected = []
        for line in answer["lines"]:
            xs, ys = [x * scale for x, _ in line["box"]], [y * scale for _, y in line["box"]]
            expected += [(w, (min(xs), min(ys), max(xs), max(ys))) for w in line["text"].split()]
        assert sum(len(w) for w, _ in words) == sum(len(w) for w, _ in expected)
        for word, (x0, y0, x1, y1) in words:
            assert any(word in w and bx0 - 1 <= x0 < x1 <= bx1 + 1 and by0 - 1 <= y0 < y1 <= by1 + 1
                       for w, (bx0, by0, bx1, by1) in expected), (word, (x0, y0, x1, y1))
