"""Full pages: PP-OCRv4 detection finds each line where it is, in reading order, and the page reader reads it
with the trained recognizer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import PROJECT
from ocrops.data.contract import read_labels
from ocrops.data.synth import load_recipe, synthesize
from ocrops.evaluation.metrics import cer
from ocrops.inference.detection import TextDetector, crop_quad, merge_line_segments, order_points, reading_order
from ocrops.inference.pages import PageReader
from ocrops.models import pretrained


def read_page(image):
    model = pretrained("ppocr-v4")
    return PageReader(TextDetector()).read([image], model.predict, mode="page")[0]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> tuple[Image.Image, list[tuple[str, tuple[int, int, int, int]]]]:
    """Eight rendered lines pasted on a page, two columns' worth of indentation."""
    root = tmp_path_factory.mktemp("page")
    synthesize(load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(update={"count": 8, "seed": 3}),
               root, progress=False)
    rows, _ = read_labels(root)
    canvas, y, truth = Image.new("RGB", (1000, 720), (245, 245, 245)), 30, []
    for i, row in enumerate(rows):
        line = Image.open(root / row.image).convert("RGB")
        x = 40 + (i % 2) * 25
        canvas.paste(line, (x, y))
        truth.append((row.text, (x, y, x + line.width, y + line.height)))
        y += line.height + 30
    return canvas, truth


def _iou(quad: list[list[float]], box: tuple[int, int, int, int]) -> float:
    q = np.array(quad)
    a = (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max())
    ix = max(0.0, min(a[2], box[2]) - max(a[0], box[0]))
    iy = max(0.0, min(a[3], box[3]) - max(a[1], box[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return inter / union


def test_page_lines_are_found_in_place_and_order_and_read(page):
    image, truth = page
    result = read_page(image)
    assert len(result["lines"]) == len(truth)
    for line, (_, box) in zip(result["lines"], truth, strict=True):
        assert _iou(line["box"], box) > 0.5
        assert 0 < line["confidence"] <= 1
    assert cer([line["text"] for line in result["lines"]], [t for t, _ in truth]) < 0.3
    assert result["text"].count("\n") == len(truth) - 1


def test_blank_page_has_no_lines():
    assert read_page(Image.new("RGB", (600, 400), (250, 250, 250)))["lines"] == []


def test_reading_order_rows_then_columns():
    def box(x, y, w=100, h=20):
        return order_points(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32))

    boxes = [box(300, 52), box(10, 50), box(10, 100), box(300, 101)]
    ordered = reading_order(boxes)
    assert [(int(b[0, 0]), int(b[0, 1])) for b in ordered] == [(10, 50), (300, 52), (10, 100), (300, 101)]


def test_crop_rectifies_and_turns_vertical_text():
    image = Image.new("RGB", (200, 300), (255, 255, 255))
    tall = order_points(np.array([[50, 20], [80, 20], [80, 220], [50, 220]], dtype=np.float32))
    assert crop_quad(image, tall).size == (200, 30)


def _rect(x, y, w, h=20, angle=0.0):
    """A box of w x h at (x, y), turned by ``angle`` degrees about the origin."""
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)
    a = np.radians(angle)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return order_points((corners @ turn.T).astype(np.float32))


def _span(box):
    return int(round(box[:, 0].min())), int(round(box[:, 0].max()))


def test_segments_of_one_line_join_and_table_cells_stay_apart():
    # one line split at a word gap (12 px < one height), overlapping twins, and a table row: cells 120 px apart
    boxes = [_rect(10, 50, 100), _rect(122, 51, 80), _rect(10, 100, 60), _rect(40, 100, 60),
             _rect(10, 150, 60), _rect(190, 150, 60), _rect(370, 151, 60)]
    merged = reading_order(merge_line_segments(boxes))
    assert [_span(b) for b in merged] == [(10, 202), (10, 100), (10, 70), (190, 250), (370, 430)]


def test_lines_above_each_other_and_headings_beside_small_text_do_not_join():
    boxes = [_rect(10, 50, 100), _rect(10, 72, 100), _rect(120, 40, 200, h=45)]
    assert len(merge_line_segments(boxes)) == 3


def test_a_tilted_line_split_in_three_joins_into_one_tilted_box():
    boxes = [_rect(0, 300, 200, angle=-5), _rect(215, 300, 200, angle=-5), _rect(430, 300, 150, angle=-5)]
    (merged,) = merge_line_segments(boxes)
    width = np.linalg.norm(merged[1] - merged[0])
    assert 570 < width < 590
    assert abs(np.degrees(np.arctan2(*(merged[1] - merged[0])[::-1])) + 5) < 0.5


def test_a_wide_line_with_wide_word_gaps_is_one_line_in_page_mode():
    """A printed English line whose word gaps DBNet splits at is read as one line, as line mode reads it."""
    text = "Fig. 3   Department of Clinical Laboratory    Report"
    image = Image.new("RGB", (1400, 64), "white")
    ImageDraw.Draw(image).text((16, 14), text, fill="black", font=ImageFont.load_default(size=30))
    result = read_page(image)
    assert len(result["lines"]) == 1, [line["text"] for line in result["lines"]]


def test_a_tilted_table_is_read_row_by_row():
    """A photo taken 5 degrees off: the right end of a row sits higher than the next row's left end."""
    cells = [(x, y) for y in (100, 130, 160) for x in (0, 300, 600)]  # 30 px rows, cells 200 px wide
    boxes = [_rect(x, y, 200, angle=-5) for x, y in cells]
    shuffled = [boxes[i] for i in (8, 0, 4, 2, 6, 1, 7, 3, 5)]
    ordered = reading_order(shuffled)
    assert [next(i for i, b in enumerate(boxes) if b is o) for o in ordered] == list(range(9))


def test_rows_of_a_photo_in_perspective_are_followed_across_the_page():
    """Rows fanning out (a page photographed from below its middle): the top row climbs 27 px across the page,
    the bottom one falls 27 px, while the rows are 30 px apart at the left edge."""
    def cell(x, y, slope, w=200, h=20):
        return order_points(np.array([[x, y], [x + w, y + slope * w], [x + w, y + h + slope * w], [x, y + h]],
                                     dtype=np.float32))

    cells = [cell(x, y + slope * x, slope) for y, slope in ((100, -0.03), (130, 0.0), (160, 0.03))
             for x in (0, 300, 600, 900)]
    shuffled = [cells[i] for i in (11, 3, 6, 0, 9, 5, 1, 10, 4, 8, 2, 7)]
    ordered = reading_order(shuffled)
    assert [next(i for i, b in enumerate(cells) if b is o) for o in ordered] == list(range(12))


def test_rows_sloping_against_the_rest_of_the_page_are_followed_from_their_first_cell():
    """A photo in perspective: the header's key-value rows climb 0.045 against the table below (which sets the
    page's angle), so a row's third cell sits 27 px off its first, nearer the next row's first cell (32 px)
    than half a line from its own row's level; the cells' own slope carries the row across."""
    def cell(x, y, slope, w, h=20):
        return order_points(np.array([[x, y], [x + w, y + slope * w], [x + w, y + h + slope * w], [x, y + h]],
                                     dtype=np.float32))

    header = [cell(x, y + 0.045 * x, 0.045, 130) for y in (100, 132, 164) for x in (0, 300, 600)]
    table = [cell(x, y, 0.0, 200) for y in range(320, 480, 30) for x in (0, 300, 600, 900)]
    boxes = header + table
    shuffled = [boxes[i] for i in np.random.default_rng(0).permutation(len(boxes))]
    ordered = reading_order(shuffled)
    assert [next(i for i, b in enumerate(boxes) if b is o) for o in ordered] == list(range(len(boxes)))


def test_ppocr_v6_detector_finds_the_lines_in_place_and_order(page):
    from ocrops.models.ppocr.presets import preset

    image, truth = page
    quads = TextDetector(model=preset("ppocr-v6").detector.locate()).detect(image)
    assert len(quads) == len(truth)
    for quad, (_, box) in zip(quads, truth, strict=True):
        assert _iou(quad.tolist(), box) > 0.5


def test_a_probability_map_computed_once_detects_as_a_fresh_run(page):
    image, _ = page
    detector = TextDetector()
    again = detector.detect(image, detector.probability(image))
    assert [q.tolist() for q in again] == [q.tolist() for q in detector.detect(image)]
