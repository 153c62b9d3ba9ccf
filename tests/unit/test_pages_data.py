"""Page data: the contract (read defensively, written back the same), PAGE-XML and JSON importers, and the
page scores (matching at IoU 0.5 with ignore regions, splits and merges, reading order, page CER)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ocrops.data.page_importers import import_page_json, import_page_xml
from ocrops.data.pages import PageLine, PageRow, box_polygon, read_pages, write_pages
from ocrops.evaluation.metrics.pages import match, order_accuracy, page_scores

PAGE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
  <Page imageFilename="scan.png" imageWidth="400" imageHeight="300">
    <ReadingOrder><OrderedGroup id="ro"><RegionRefIndexed index="0" regionRef="r2"/>
      <RegionRefIndexed index="1" regionRef="r1"/></OrderedGroup></ReadingOrder>
    <TextRegion id="r1"><Coords points="10,150 390,150 390,290 10,290"/>
      <TextLine id="l3"><Coords points="10,160 300,160 300,190 10,190"/>
        <TextEquiv><Unicode>third</Unicode></TextEquiv></TextLine>
      <TextLine id="bad"><TextEquiv><Unicode>no coords</Unicode></TextEquiv></TextLine>
    </TextRegion>
    <TextRegion id="r2"><Coords points="10,10 390,10 390,140 10,140"/>
      <TextLine id="l1"><Coords points="10,20 200,20 200,50 10,50"/>
        <TextEquiv><Unicode>first</Unicode></TextEquiv></TextLine>
      <TextLine id="l2"><Coords points="10,60 250,60 250,90 10,90"/>
        <TextEquiv><Unicode>second</Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>"""


def test_page_contract_round_trips_and_quarantines_bad_rows(tmp_path: Path):
    row = PageRow("images/p.jpg", [PageLine("甲", box_polygon([1, 2, 30, 20]))], "test", [box_polygon([0, 0, 5, 5])])
    write_pages(tmp_path, [row])
    with (tmp_path / "pages.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"image": "images/q.jpg", "lines": [{"text": "x", "points": [[0, 0], [1, 1]]}]}) + "\n")
        fh.write(json.dumps({"image": "images/r.jpg", "split": "holdout", "lines": []}) + "\n")
        fh.write("{not json\n")
    rows, bad = read_pages(tmp_path)
    assert rows == [row] and rows[0].text == "甲"
    assert [b.reason for b in bad] == ["page_bad_polygon", "page_bad_split", "page_not_json"]


def test_page_xml_keeps_the_reading_order_and_lists_what_it_could_not_take(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "scan.xml").write_text(PAGE_XML, encoding="utf-8")
    Image.new("RGB", (400, 300), "white").save(src / "scan.png")
    (src / "broken.xml").write_text("<PcGts><Page", encoding="utf-8")
    result = import_page_xml(src, tmp_path / "out")
    rows, bad = read_pages(tmp_path / "out")
    assert result.imported == 1 and not bad
    assert [line.text for line in rows[0].lines] == ["first", "second", "third"]
    assert rows[0].lines[0].points == [[10, 20], [200, 20], [200, 50], [10, 50]]
    reasons = " ".join(r["reason"] for r in result.rejected)
    assert "no Coords" in reasons and "not PAGE-XML" in reasons


def test_page_json_takes_boxes_or_points(tmp_path: Path):
    Image.new("RGB", (100, 80), "white").save(tmp_path / "a.png")
    (tmp_path / "pages.json").write_text(json.dumps([
        {"image": "a.png", "split": "val", "lines": [{"text": "box", "box": [1, 2, 50, 20]},
                                                     {"text": "quad", "points": [[1, 30], [50, 30], [50, 45], [1, 45]]},
                                                     {"text": "nothing"}]},
        {"image": "missing.png", "lines": []}]), encoding="utf-8")
    result = import_page_json(tmp_path / "pages.json", tmp_path / "out")
    rows, _ = read_pages(tmp_path / "out")
    assert [line.text for line in rows[0].lines] == ["box", "quad"] and rows[0].split == "val"
    assert len(result.rejected) == 2


BOX = box_polygon


def test_matching_counts_splits_merges_and_ignores():
    truth = [BOX([0, 0, 100, 20]), BOX([0, 30, 100, 50]), BOX([0, 60, 100, 80]), BOX([0, 90, 100, 110])]
    found = [BOX([0, 1, 98, 21]),                         # line 0, matched
             BOX([0, 30, 45, 50]), BOX([55, 30, 100, 50]),  # line 1 split in two
             BOX([0, 60, 100, 110]),                      # lines 2 and 3 merged
             BOX([300, 300, 340, 340])]                   # a stamp, inside an ignore region
    m = match(truth, found, ignore=[BOX([290, 290, 350, 350])])
    assert m.pairs == [(0, 0)] and m.missed == [1, 2, 3] and m.ignored == [4]
    assert m.split == [1] and m.merged == [3] and sorted(m.false) == [1, 2, 3]


def test_a_labelled_line_under_a_stamp_still_counts():
    truth = [BOX([0, 0, 100, 20])]
    stamp = BOX([-10, -10, 120, 60])  # its ignore box covers the line (a stamp over the footer)
    assert match(truth, [BOX([0, 0, 100, 20])], ignore=[stamp]).pairs == [(0, 0)]
    unmatched = match(truth, [BOX([0, 30, 40, 50])], ignore=[stamp])
    assert unmatched.ignored == [0] and unmatched.false == [] and unmatched.missed == [0]


def test_order_accuracy_and_page_scores():
    assert order_accuracy([(0, 0), (1, 1), (2, 2)]) == 1.0
    assert order_accuracy([(0, 1), (1, 0), (2, 2)]) == 0.5
    truth = [[("ab", BOX([0, 0, 100, 20])), ("cd", BOX([0, 30, 100, 50]))]]
    read = [[("cd", BOX([0, 30, 100, 50])), ("ab", BOX([0, 0, 100, 20]))]]  # right lines, wrong order
    scores, _ = page_scores(truth, read)
    assert scores.f1 == 1.0 and scores.matched_line_cer == 0.0
    assert scores.order_accuracy == 0.0 and scores.page_cer == pytest.approx(4 / 5)
