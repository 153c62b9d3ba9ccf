"""Lone glyphs: a thin flag alone in a table row that DBNet does not box is found by its ink; specks, a
line's unboxed tail and ink outside every row are not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ocrops.data.fonts import find_font
from ocrops.data.geometry import order_points
from ocrops.inference.detection import TextDetector
from ocrops.inference.lone_glyphs import lone_glyphs
from ocrops.inference.quads import drop_nested


def _box(x0, y0, x1, y1):
    return order_points(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32))


def _arrow(draw: ImageDraw.ImageDraw, x: int, top: int, bottom: int, up: bool = True) -> None:
    """A thin ↑ (or ↓) as a lab report prints it: a 2-pixel shaft and a small head."""
    draw.line([(x, top), (x, bottom)], fill=(20, 20, 20), width=2)
    tip, back = (top, top + 6) if up else (bottom, bottom - 6)
    draw.polygon([(x - 4, back), (x + 5, back), (x, tip)], fill=(20, 20, 20))


def _row_page() -> tuple[Image.Image, list[np.ndarray]]:
    """Two table rows of 'cells' (dark bars standing for the text DBNet found, boxed) and what no box covers:
    a lone arrow in row one's flag column, a speck in row two, a tail right after row two's cell, and an
    arrow below every row."""
    image = Image.new("RGB", (900, 400), (235, 235, 230))
    draw = ImageDraw.Draw(image)
    boxes = []
    for y in (100, 160):
        for x0, x1 in ((40, 200), (300, 380)):
            draw.rectangle([x0 + 4, y + 4, x1 - 4, y + 20], fill=(30, 30, 30))
            boxes.append(_box(x0, y, x1, y + 24))
    _arrow(draw, 600, 102, 122)  # row one, far right: a lab flag
    draw.ellipse([600, 168, 603, 171], fill=(20, 20, 20))  # row two: a speck
    _arrow(draw, 388, 162, 182, up=False)  # row two: ink touching the cell's end, a tail of that line
    _arrow(draw, 600, 300, 320)  # no row here
    return image, boxes


def test_a_lone_arrow_in_a_row_is_boxed_and_nothing_else():
    image, boxes = _row_page()
    (found,) = lone_glyphs(image, boxes)
    x0, y0 = found.min(axis=0)
    x1, y1 = found.max(axis=0)
    assert x0 < 599 < 601 < x1 and x1 - x0 < 24  # the arrow and some paper each side, one glyph wide
    assert y0 <= 103 and y1 >= 121 and y1 - y0 < 30  # its ink, not the row's neighbours
    assert lone_glyphs(image, []) == []


def test_the_detector_reads_flags_it_would_miss():
    """Real DBNet on a lab table whose flag column holds lone arrows in a thin serif face (AR PL UMing, one of
    the sample's faces): PP-OCR's own post-processing boxes few of them, lone-glyph recovery all."""
    font = find_font("AR PL UMing CN").truetype(20)
    image = Image.new("RGB", (1000, 600), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    rows = range(60, 540, 48)
    for i, y in enumerate(rows):
        draw.text((40, y), f"白细胞计数(WBC) {i}", fill=(20, 20, 20), font=font)
        draw.text((420, y), f"{3.1 + i:.2f}", fill=(20, 20, 20), font=font)
        draw.text((700, y), "↑↓"[i % 2], fill=(20, 20, 20), font=font)
    recovering = TextDetector()
    plain = TextDetector(replace(recovering.settings, lone_glyphs=False))

    def flags(quads: list[np.ndarray]) -> int:
        return sum(680 < q[:, 0].mean() < 730 for q in quads)

    assert flags(plain.detect(image)) <= 3
    assert flags(recovering.detect(image)) == len(rows)


def test_a_box_inside_a_larger_one_is_dropped():
    line, hole, beside = _box(10, 10, 300, 40), _box(150, 20, 160, 30), _box(310, 10, 400, 40)
    kept = drop_nested([line, hole, beside])
    assert [q.tolist() for q in kept] == [line.tolist(), beside.tolist()]


def test_a_glyphs_box_is_fitted_to_its_ink_and_words_keep_theirs():
    """DBNet boxes a lone arrow about twice as wide as a font's advance: the box comes down to the ink and its
    side bearings; a word's box, and a turned one, are kept as DBNet gave them."""
    from ocrops.inference.lone_glyphs import GLYPH_BEARING, fit_to_ink

    image = Image.new("RGB", (400, 100), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    _arrow(draw, 100, 40, 62)  # ink x 96..105
    draw.rectangle([200, 42, 330, 60], fill=(30, 30, 30))
    wide = _box(89, 37, 113, 65)  # 24 px wide, 28 high: one glyph
    word = _box(196, 38, 336, 64)
    turned = np.array([[88, 40], [114, 36], [118, 62], [92, 66]], dtype=np.float32)
    glyph, same_word, same_turned = fit_to_ink(image, [wide, word, turned])
    bearing = GLYPH_BEARING * 28
    assert abs(glyph[0, 0] - (96 - bearing)) <= 1 and abs(glyph[1, 0] - (106 + bearing)) <= 1, glyph
    assert (glyph[:, 1] == wide[:, 1]).all()  # as high as before
    assert (same_word == word).all() and (same_turned == turned).all()


def test_a_glyphs_crop_keeps_paper_beside_it_and_vertical_text_stays_a_column():
    from ocrops.data.geometry import MIN_CROP_LENGTH, widen

    glyph = _box(100, 40, 110, 66)  # 10 x 26
    grown = widen(glyph, 0.1, 400, 100)
    assert grown[1, 0] - grown[0, 0] == pytest.approx(MIN_CROP_LENGTH * 26, abs=0.01)
    assert (grown[0, 0] + grown[1, 0]) / 2 == pytest.approx(105, abs=0.01)  # centred on the glyph
    column = _box(100, 10, 110, 90)  # 10 x 80: a column of vertical text, grown by its margin only
    grown = widen(column, 0.1, 400, 100)
    assert grown[1, 0] - grown[0, 0] == pytest.approx(10 + 16)
