"""The page reader: line or page, crops with margin, the response lines (post-processing per request), and
the same reading through the sync and async paths."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PIL import Image

from ocrops.config import PostprocessParams
from ocrops.errors import ErrorCode, OcropsError
from ocrops.inference.pages import Found, PageReader, Region, bbox, is_line, widen
from ocrops.inference.types import Prediction
from ocrops.postprocess import Postprocessor


class FixedDetector:
    def __init__(self, quads):
        self.quads = [np.array(q, dtype=np.float32) for q in quads]

    def detect(self, image):
        return self.quads


def test_line_images_are_read_whole_and_pages_go_through_the_detector():
    line, page = Image.new("RGB", (300, 40)), Image.new("RGB", (600, 800))
    assert is_line(line) and not is_line(page)
    detector = FixedDetector([[[10, 10], [110, 10], [110, 30], [10, 30]]])
    reader = PageReader(detector, margin=0.5)
    found = reader.regions(line, "auto")
    assert found.kind == "line" and found.regions[0].crop is line
    assert found.regions[0].box == [[0, 0], [300, 0], [300, 40], [0, 40]]
    found = reader.regions(page, "auto")
    assert found.kind == "page" and found.regions[0].box == [[10, 10], [110, 10], [110, 30], [10, 30]]  # the ink
    assert found.regions[0].crop.size == (120, 40)  # 0.5 x the 20-pixel line height of paper on each side
    assert reader.regions(line, "page").kind == "page"


def test_widen_stays_inside_the_image():
    quad = np.array([[2, 2], [50, 2], [50, 12], [2, 12]], dtype=np.float32)
    grown = widen(quad, 1.0, width=55, height=20)
    assert grown[:, 0].min() == 0 and grown[:, 0].max() == 54 and grown[:, 1].max() == 19


def test_assemble_postprocesses_per_request_and_drops_empty_page_lines():
    post = Postprocessor(PostprocessParams(), ["Creatinine"])
    found = Found("page", [Region([[0, 0], [1, 0], [1, 1], [0, 1]], None)] * 3)
    readings = [Prediction("Tel 13812345678", 0.99), Prediction("", 0.1), Prediction("Creatinlne", 0.5)]
    reader = PageReader(FixedDetector([]))
    result = reader.assemble(found, readings, post, correct=None, redact_pii=None)
    assert [line["text"] for line in result["lines"]] == ["Tel [PHONE]", "Creatinine"]
    assert result["lines"][1]["raw_text"] == "Creatinlne"
    raw = reader.assemble(found, readings, post, correct=False, redact_pii=False)
    assert raw["text"] == "Tel 13812345678\nCreatinlne"


def test_sync_and_async_paths_read_the_same_and_recognise_every_crop_in_one_call():
    page = Image.new("RGB", (600, 800), "white")
    reader = PageReader(FixedDetector([[[10, 10], [110, 10], [110, 30], [10, 30]],
                                       [[10, 50], [210, 50], [210, 70], [10, 70]]]))
    calls = []

    def recognize(crops):
        calls.append(len(crops))
        return [Prediction(f"w{c.width}", 0.9) for c in crops]

    async def recognize_async(crops):
        return recognize(crops)

    timings: dict = {}
    sync = reader.read([page, Image.new("RGB", (300, 40))], recognize, timings=timings)
    threaded = asyncio.run(reader.read_async([page, Image.new("RGB", (300, 40))], recognize_async))
    # per read: the page's two lines both ways round (is it upside down?), then every crop in one call
    assert sync == threaded and calls == [4, 3, 4, 3]
    # crops keep 0.3 x the 20-pixel line height of paper on each side
    assert [r["mode"] for r in sync] == ["page", "line"] and sync[0]["text"] == "w112\nw212"
    assert set(timings) == {"detect_ms", "recognize_ms"}


def test_bbox_of_four_corners():
    assert bbox([[1.2, 5], [9.7, 5.2], [9.6, 8.9], [1, 9]]) == [1, 5, 10, 9]


def test_a_request_holding_more_than_max_lines_is_refused_before_recognition():
    quads = [[[10, 10 + 30 * i], [110, 10 + 30 * i], [110, 30 + 30 * i], [10, 30 + 30 * i]] for i in range(3)]
    reader = PageReader(FixedDetector(quads))
    pages = [Image.new("RGB", (600, 800), "white")] * 2  # 6 lines in all
    calls = []

    def recognize(crops):
        calls.append(len(crops))
        return [Prediction("x", 0.9) for _ in crops]

    async def recognize_async(crops):
        return recognize(crops)

    assert len(reader.read(pages, recognize, max_lines=6)) == 2
    for attempt in (lambda: reader.read(pages, recognize, max_lines=5),
                    lambda: asyncio.run(reader.read_async(pages, recognize_async, max_lines=5))):
        with pytest.raises(OcropsError) as refused:
            attempt()
        assert refused.value.code == ErrorCode.TOO_LARGE and "6 text lines" in str(refused.value)
    # the refused requests never reached the recognizer; the read one: each page's lines both ways round, then all
    assert calls == [6, 6, 6]


def test_a_single_line_spanning_a_line_image_is_read_as_the_image_itself():
    line = Image.new("RGB", (400, 40), "white")
    reader = PageReader(FixedDetector([[[5, 8], [395, 8], [395, 32], [5, 32]]]))
    found = reader.regions(line, "page")
    assert found.kind == "page" and found.regions[0].crop is line  # no resampled copy
    short = PageReader(FixedDetector([[[5, 8], [200, 8], [200, 32], [5, 32]]])).regions(line, "page")
    assert short.regions[0].crop is not line and short.regions[0].crop.width < 300


def test_a_line_image_found_in_pieces_is_read_as_the_image_and_two_lines_stay_two():
    """DBNet splits a line at word gaps (pieces tilted apart) and boxes a glyph of its end on its own: the
    pieces share a band across the image, so the image is read as one line, as line mode reads it."""
    line = Image.new("RGB", (240, 40), "white")
    pieces = [[[6, 11], [132, 12], [132, 31], [6, 30]], [[146, 11], [194, 16], [193, 31], [145, 26]],
              [[205, 16], [230, 13], [231, 28], [206, 30]], [[229, 14], [239, 14], [239, 27], [229, 27]]]
    found = PageReader(FixedDetector(pieces)).regions(line, "page")
    assert len(found.regions) == 1 and found.regions[0].crop is line
    assert found.regions[0].box == [[0, 0], [240, 0], [240, 40], [0, 40]]
    stacked = Image.new("RGB", (240, 100), "white")  # two lines one above the other: no shared band
    two = [[[6, 10], [234, 10], [234, 40], [6, 40]], [[6, 55], [234, 55], [234, 85], [6, 85]]]
    assert len(PageReader(FixedDetector(two)).regions(stacked, "page").regions) == 2
    short = [[[6, 11], [120, 12], [120, 31], [6, 30]]]  # a word at the start of a line image stays a word
    assert PageReader(FixedDetector(short)).regions(line, "page").regions[0].crop is not line


def test_the_default_detector_takes_the_calibrated_box_growth_and_joining(monkeypatch):
    from ocrops.config import Params
    from ocrops.inference.detection import DetectorSettings
    from ocrops.serving.settings import ServeSettings

    serve = Params().serve
    reader = PageReader(margin=serve.crop_margin, unclip_ratio=serve.unclip_ratio, merge_gap=serve.merge_gap)
    settings = reader.detector.settings
    assert (settings.unclip_ratio, settings.merge_gap) == (serve.unclip_ratio, serve.merge_gap)
    plain = DetectorSettings()
    assert (settings.unclip_ratio, settings.merge_gap) != (plain.unclip_ratio, plain.merge_gap)
    assert PageReader().detector.settings == plain  # no overrides: PP-OCR's own post-processing
    monkeypatch.setenv("OCROPS_SERVE_UNCLIP_RATIO", "1.4")  # a deployment can recalibrate without a rebuild
    assert ServeSettings().unclip_ratio == 1.4
