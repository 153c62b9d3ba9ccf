"""Line crops from transcribed pages (ALTO, PAGE-XML): what is cut, what is left out and why, provenance on every
row, one split per page, and several collections added into one set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from conftest import PROJECT
from ocrops.cli import app
from ocrops.config import SplitRatios
from ocrops.data.contract import read_labels
from ocrops.data.importers import REJECTS_FILE
from ocrops.data.line_importers import MAX_LINE_HEIGHT, LineFilter, Provenance, import_page_lines, read_alto

ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
  <Description><sourceImageInformation><fileName>{image}</fileName></sourceImageInformation></Description>
  <Tags><OtherTag ID="LT1" LABEL="DefaultLine:Typewritten"/><OtherTag ID="LT2" LABEL="DefaultLine:Handwritten"/></Tags>
  <Layout><Page WIDTH="600" HEIGHT="400"><PrintSpace><TextBlock>
    <TextLine ID="a" TAGREFS="LT1" HPOS="20" VPOS="20" WIDTH="400" HEIGHT="40">
      <Shape><Polygon POINTS="20 20 420 20 420 60 20 60"/></Shape>
      <String CONTENT="first"/><SP/><String CONTENT="line"/></TextLine>
    <TextLine ID="b" TAGREFS="LT1" HPOS="20" VPOS="100" WIDTH="300" HEIGHT="120">
      <String CONTENT="_underlined ^er tall line"/></TextLine>
    <TextLine ID="c" TAGREFS="LT2" HPOS="20" VPOS="250" WIDTH="300" HEIGHT="40">
      <String CONTENT="a handwritten note"/></TextLine>
    <TextLine ID="d" TAGREFS="LT1" HPOS="20" VPOS="300" WIDTH="300" HEIGHT="40">
      <String CONTENT="with ~~~ scribble"/></TextLine>
    <TextLine ID="e" TAGREFS="LT1"><String CONTENT="no outline"/></TextLine>
  </TextBlock></PrintSpace></Page></Layout>
</alto>"""

PAGE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
  <Page imageFilename="{image}" imageWidth="600" imageHeight="400">
    <TextRegion id="r"><Coords points="0,0 600,0 600,400 0,400"/>
      <TextLine id="l1"><Coords points="20,30 400,24 401,64 21,70"/>
        <TextEquiv><Unicode>a skewed line</Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>"""


def _page(path: Path, seed: int) -> None:
    image = Image.new("RGB", (600, 400), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    for y in (30, 130, 260, 310):
        draw.text((25, y), f"page {seed} text at {y}", fill=(20, 20, 20))
    image.save(path, format="JPEG")


def _collection(root: Path, pages: int, fmt: str = "alto") -> Path:
    root.mkdir(parents=True)
    for i in range(pages):
        _page(root / f"p{i}.jpg", i)
        (root / f"p{i}.xml").write_text((ALTO if fmt == "alto" else PAGE_XML).format(image=f"p{i}.jpg"),
                                        encoding="utf-8")
    (root / "orphan.xml").write_text(ALTO.format(image="missing.jpg"), encoding="utf-8")
    return root


def test_alto_lines_join_their_words_and_skip_handwritten_line_types(tmp_path: Path) -> None:
    src = _collection(tmp_path / "src", 1)
    image, lines, problems = read_alto(src / "p0.xml")
    assert image == "p0.jpg"
    assert [line.text for line in lines] == ["first line", "_underlined ^er tall line", "with ~~~ scribble"]
    assert lines[1].points == [[20, 100], [320, 100], [320, 220], [20, 220]]  # no polygon: its box
    assert any("Handwritten (not printed text)" in p for p in problems)
    assert any("line e: no outline" in p for p in problems)


def test_lines_are_cut_with_their_provenance_and_what_is_left_out_is_listed(tmp_path: Path) -> None:
    src, out = _collection(tmp_path / "src", 3), tmp_path / "guard"
    where = Provenance("Test collection", "CC-BY-4.0", "https://example.org/gt")
    result = import_page_lines(src, out, where, "alto", line_filter=LineFilter(skip=("~~~",), strip="_^"))
    rows, bad = read_labels(out)
    assert not bad and result.imported == len(rows) == 6  # 2 printed lines on each of 3 pages
    assert {r.text for r in rows} == {"first line", "underlined er tall line"}
    assert all(r.extra["source"] == "Test collection" and r.extra["licence"] == "CC-BY-4.0" for r in rows)
    assert {r.extra["page"] for r in rows} == {"p0.xml", "p1.xml", "p2.xml"}
    for row in rows:
        crop = Image.open(out / row.image)
        assert crop.height <= MAX_LINE_HEIGHT and crop.width > crop.height
        assert np.asarray(crop.convert("L")).min() < 200  # text in it (the paper is 244), not blank
    by_page: dict[str, set[str]] = {}
    for row in rows:
        by_page.setdefault(row.extra["page"], set()).add(row.split)
    assert all(len(splits) == 1 for splits in by_page.values())  # a page is never split across splits
    listed = [json.loads(x) for x in (out / REJECTS_FILE).read_text(encoding="utf-8").splitlines()]
    assert listed == result.rejected
    reasons = " | ".join(f"{r['source']}: {r['reason']}" for r in listed)
    assert "orphan.xml: image 'missing.jpg' not found beside it" in reasons
    assert "holds '~~~'" in reasons and "Handwritten" in reasons
    assert all(not Path(r["source"]).is_absolute() for r in listed)  # names inside the source, no machine paths


def test_collections_add_up_into_one_set_and_max_lines_takes_whole_pages(tmp_path: Path) -> None:
    out = tmp_path / "guard"
    ratios = SplitRatios(train=0.5, val=0.0, test=0.5)
    first = import_page_lines(_collection(tmp_path / "a", 4), out, Provenance("A", "CC0-1.0"), "alto",
                              ratios=ratios, max_lines=3, line_filter=LineFilter(skip=("~~~",)))
    assert first.imported == 4  # whole pages: the second page passes the cap of 3
    second = import_page_lines(_collection(tmp_path / "b", 2, fmt="page-xml"), out, Provenance("B", "CC-BY-4.0"),
                               "page-xml", ratios=ratios)
    rows, _ = read_labels(out)
    assert second.imported == 2 and len(rows) == 6
    assert [r.extra["source"] for r in rows] == ["A"] * 4 + ["B"] * 2
    assert {r.split for r in rows} <= {"train", "test"}
    skewed = Image.open(out / rows[-1].image)
    assert skewed.width > 350 and 40 <= skewed.height < 60  # the whole skewed line, turned upright
    assert len({r.image for r in rows}) == 6


def test_the_cli_imports_alto_and_insists_on_provenance(tmp_path: Path) -> None:
    src = _collection(tmp_path / "src", 2)
    runner = CliRunner()
    refused = runner.invoke(app, ["data", "import", str(src), "-o", str(tmp_path / "x"), "-f", "alto-lines",
                                  "--params", str(PROJECT / "params.yaml")])
    assert refused.exit_code == 2 and "--source-name and --licence" in refused.output
    done = runner.invoke(app, ["data", "import", str(src), "-o", str(tmp_path / "g"), "-f", "alto-lines",
                               "--source-name", "S", "--licence", "CC-BY-4.0", "--skip", "~~~", "--strip", "_^",
                               "--test-share", "1", "--params", str(PROJECT / "params.yaml")])
    assert done.exit_code == 0, done.output
    rows, _ = read_labels(tmp_path / "g")
    assert len(rows) == 4 and {r.split for r in rows} == {"test"}
