"""Line or page, crops with margin, and the response lines (post-processing per request)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ocrops.config import PostprocessParams
from ocrops.postprocess import Postprocessor
from ocrops.serving.reading import Region, assemble, bbox, is_line, regions, widen


class FixedDetector:
    def __init__(self, quads):
        self.quads = [np.array(q, dtype=np.float32) for q in quads]

    def detect(self, image):
        return self.quads


def test_line_images_are_read_whole_and_pages_go_through_the_detector():
    line, page = Image.new("RGB", (300, 40)), Image.new("RGB", (600, 800))
    assert is_line(line) and not is_line(page)
    kind, found = regions(line, "auto", detector=None)
    assert kind == "line" and found[0].crop is line and found[0].box == [[0, 0], [300, 0], [300, 40], [0, 40]]
    detector = FixedDetector([[[10, 10], [110, 10], [110, 30], [10, 30]]])
    kind, found = regions(page, "auto", detector, margin=0.5)
    assert kind == "page" and found[0].box == [[10, 10], [110, 10], [110, 30], [10, 30]]  # the ink box
    assert found[0].crop.size == (120, 40)  # 0.5 x the 20-pixel line height of paper on each side
    assert regions(line, "page", detector)[0] == "page"


def test_widen_stays_inside_the_image():
    quad = np.array([[2, 2], [50, 2], [50, 12], [2, 12]], dtype=np.float32)
    grown = widen(quad, 1.0, width=55, height=20)
    assert grown[:, 0].min() == 0 and grown[:, 0].max() == 54 and grown[:, 1].max() == 19


def test_assemble_postprocesses_per_request_and_drops_empty_page_lines():
    post = Postprocessor(PostprocessParams(), ["Creatinine"])
    found = [Region([[0, 0], [1, 0], [1, 1], [0, 1]], None)] * 3
    readings = [{"text": "Tel 13812345678", "confidence": 0.99}, {"text": "", "confidence": 0.1},
                {"text": "Creatinlne", "confidence": 0.5}]
    result = assemble("page", found, readings, post, correct=None, redact_pii=None)
    assert [line["text"] for line in result["lines"]] == ["Tel [PHONE]", "Creatinine"]
    assert result["lines"][1]["raw_text"] == "Creatinlne"
    raw = assemble("page", found, readings, post, correct=False, redact_pii=False)
    assert raw["text"] == "Tel 13812345678\nCreatinlne"


def test_bbox_of_four_corners():
    assert bbox([[1.2, 5], [9.7, 5.2], [9.6, 8.9], [1, 9]]) == [1, 5, 10, 9]
