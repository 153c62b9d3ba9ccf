"""The page measuring harness: page scores, the labelled lines' own CER, page mode vs line mode, readers side by
side, and the page gallery's drawing, on a rendered page read by the real PP-OCRv4 detector and recognizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import write_pages
from ocrops.evaluation.metrics.pages import match
from ocrops.evaluation.page_gallery import COLOURS, contact_sheet, draw_page
from ocrops.evaluation.pages import (
    LabelledPage,
    compare_page_readers,
    evaluate_pages,
    labelled_line_cer,
    labelled_pages,
    page_vs_line,
)
from ocrops.inference.pages import PageReader


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> LabelledPage:
    root = write_pages(tmp_path_factory.mktemp("pages") / "pages", ["test"], seed=11)
    accepted = root / "accepted.jsonl"
    rows = (root / "pages.jsonl").read_text(encoding="utf-8").splitlines()
    import json

    accepted.write_text("".join(json.dumps(json.loads(r) | {"path": str(root / json.loads(r)["image"])},
                                           ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (found,) = labelled_pages(accepted, "test")
    assert labelled_pages(accepted, "train") == []
    return found


@pytest.fixture(scope="module")
def recognize():
    from ocrops.models import pretrained

    model = pretrained("ppocr-v4")
    return lambda crops: model.predict(crops, batch_size=16)


def test_a_page_is_scored_against_its_labels(page: LabelledPage, recognize):
    figures, found, matches = evaluate_pages([page], PageReader(margin=0.3), recognize)
    assert figures["pages"] == 1 and figures["lines"] == len(page.truth)
    assert figures["f1"] > 0.8 and figures["order_accuracy"] > 0.9
    assert 0 <= figures["labelled_line_cer"] < 0.2 and figures["page_cer"] < 0.3
    assert figures["page_cer_minus_line_cer_points"] == pytest.approx(
        100 * (figures["page_cer"] - figures["labelled_line_cer"]))
    assert figures["latency"]["p50_ms"] > 0 and figures["pages_per_s"] > 0
    assert set(figures["by_capture"]) == {page.capture}
    assert len(found) == 1 and len(matches[0].pairs) == round(figures["recall"] * figures["lines"])


def test_labelled_line_cer_reads_the_labelled_crops(page: LabelledPage, recognize):
    good = labelled_line_cer([page], recognize, margin=0.3)
    wrong = LabelledPage(page.name, page.image, page.capture, [(t + "XYZ", p) for t, p in page.truth], [])
    assert labelled_line_cer([wrong], recognize, margin=0.3) > good + 0.05  # it compares with the labels


def test_page_mode_on_line_images_reads_what_line_mode_reads(page: LabelledPage, recognize):
    reader = PageReader(margin=0.3)
    crops = [page.image.crop((int(min(x for x, _ in p)) - 8, int(min(y for _, y in p)) - 6,
                              int(max(x for x, _ in p)) + 8, int(max(y for _, y in p)) + 6))
             for text, p in page.truth if len(text) > 8][:6]
    figures = page_vs_line(crops, reader, recognize)
    assert figures["lines"] == len(crops) and figures["same_text"] == len(crops)


def test_readers_side_by_side_on_the_same_pages(page: LabelledPage):
    def perfect(image: Image.Image) -> list:
        return list(page.truth)

    def misses_half(image: Image.Image) -> list:
        return list(page.truth[::2])

    report = compare_page_readers([page], {"perfect": perfect, "half": misses_half}, concurrency=(1, 2))
    perfect_r, half_r = report["readers"]["perfect"], report["readers"]["half"]
    assert perfect_r["scores"]["f1"] == 1.0 and perfect_r["scores"]["page_cer"] == 0.0
    assert half_r["scores"]["recall"] == pytest.approx(len(page.truth[::2]) / len(page.truth))
    assert half_r["scores"]["page_cer"] > 0.3
    for reader in (perfect_r, half_r):
        assert set(reader["speed"]) == {1, 2}
        assert all(p["errors"] == 0 and p["pages"] >= 1 and p["pages_per_s"] > 0 for p in reader["speed"].values())


def test_the_gallery_draws_each_outcome_in_its_colour(page: LabelledPage, tmp_path: Path):
    truth = [p for _, p in page.truth]
    found = truth[1:] + [[[5, 5], [60, 5], [60, 30], [5, 30]]]  # the first line missed, one false detection
    m = match(truth, found, page.ignore)
    assert m.missed == [0] and m.false == [len(found) - 1]
    drawn = np.asarray(draw_page(page.image, truth, found, m, page.ignore))
    x1, y1 = (int(v) for v in truth[0][0])
    assert tuple(drawn[y1, x1 + 10]) == COLOURS["missed"]
    assert tuple(drawn[5, 30]) == COLOURS["false"]
    x2, y2 = (int(v) for v in truth[1][0])
    assert tuple(drawn[y2, x2 + 10]) == COLOURS["read"]
    sheet = contact_sheet([Image.fromarray(drawn)] * 2, ["a", "b"], height=300)
    assert sheet.height == 300 + 28 + 34 and sheet.width > 2 * 300 * page.image.width / page.image.height
