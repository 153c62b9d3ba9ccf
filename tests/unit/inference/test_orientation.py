"""Pages turned without an EXIF tag: the detector's map says when text runs down the page, the recognizer's
confidence on the longest lines read both ways says when it is upside down; what the reader doubts is said."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import write_pages
from ocrops.data.geometry import turn
from ocrops.data.images import load_rgb
from ocrops.data.pages import read_pages
from ocrops.inference.orientation import UPSIDE_DOWN_MARGIN, Probe, probe
from ocrops.inference.pages import Found, doubts


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Image.Image:
    root = write_pages(tmp_path_factory.mktemp("pages"), ["test"], seed=5)
    rows, _ = read_pages(root)
    return load_rgb(root / rows[0].image)


def test_the_detectors_map_says_when_text_runs_down_the_page(page):
    from ocrops.inference.detection import TextDetector
    from ocrops.models.ppocr.presets import PRESETS

    detector = TextDetector(model=PRESETS["ppocr-v6"].detector.locate())
    assert [detector.runs_down(detector.probability(turn(page, degrees))) for degrees in (0, 90, 180, 270)] == [
        False, True, False, True]


def test_upside_down_takes_clearly_better_confidence_turned_round():
    crops = [Image.new("RGB", (100, 20)), Image.new("RGB", (50, 20))]
    p = Probe(crops, [5.0, 2.5])
    assert len(p.both_ways) == 4
    assert p.upside_down([0.3, 0.4, 0.95, 0.9])
    assert not p.upside_down([0.95, 0.9, 0.3, 0.4])
    assert not p.upside_down([0.8, 0.8, 0.8 + UPSIDE_DOWN_MARGIN / 2, 0.8])  # not clearly better: left as found


def test_only_lines_of_three_glyphs_or_more_are_probed():
    def box(x0, width, height=20):
        return np.array([[x0, 0], [x0 + width, 0], [x0 + width, height], [x0, height]], np.float32)

    crops = [Image.new("RGB", (w, 20)) for w in (30, 200, 80)]
    chosen = probe([box(0, 30), box(40, 200), box(300, 80)], crops)
    assert chosen is not None and chosen.crops == [crops[1], crops[2]]  # longest first; a 1.5-glyph box left out
    assert probe([box(0, 30)], crops[:1]) is None and probe([], []) is None


def test_warnings_say_what_the_reader_doubts():
    def found(kind: str, size: tuple[int, int]) -> Found:
        return Found(kind, [], size)

    line = {"text": "x", "confidence": 0.3}
    assert [w["code"] for w in doubts(found("page", (800, 1000)), [])] == ["no_text"]
    assert [w["code"] for w in doubts(found("line", (10, 8)), [line])] == ["tiny_image", "low_confidence"]
    assert doubts(found("page", (800, 1000)), [{"text": "x", "confidence": 0.97}]) == []
