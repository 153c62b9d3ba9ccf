"""Every variant of a picture decodes to the plain picture: upright, on white paper, 8-bit RGB."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import line_image
from image_variants import LOSSY, variants
from ocrops.data.images import open_rgb, to_rgb

UPRIGHT = line_image("Hb 135 g/L  WBC 6.2", (260, 40), paper=255)
VARIANTS = variants(UPRIGHT)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_decodes_to_the_plain_picture(name):
    rgb, facts = open_rgb(VARIANTS[name])
    assert rgb.mode == "RGB" and rgb.size == UPRIGHT.size, (name, facts)
    diff = np.abs(np.asarray(rgb, np.int16) - np.asarray(UPRIGHT, np.int16))
    assert diff.mean() < (4 if name in LOSSY else 1.0), (name, diff.mean())


def test_the_plain_reading_would_have_failed_on_these_variants():
    """The checks above can fail: Pillow's plain convert("RGB") gets these wrong."""
    import io

    for name in ("exif6", "rgba", "grey16", "palette_transparent_black"):
        with Image.open(io.BytesIO(VARIANTS[name])) as im:
            naive = im.convert("RGB")
        same_size = naive.size == UPRIGHT.size
        assert not same_size or np.abs(np.asarray(naive, np.int16) - np.asarray(UPRIGHT, np.int16)).mean() > 10, name


def test_float_grey_in_zero_to_one_is_scaled():
    grey = np.asarray(UPRIGHT.convert("L"), np.float32) / 255
    assert np.abs(np.asarray(to_rgb(Image.fromarray(grey, "F")).convert("L"), np.int16)
                  - np.asarray(UPRIGHT.convert("L"), np.int16)).max() <= 1


def test_multipage_tiff_reads_its_first_page():
    import io

    buf = io.BytesIO()
    UPRIGHT.save(buf, format="TIFF", save_all=True, append_images=[Image.new("RGB", (50, 50), "black")])
    rgb, _ = open_rgb(buf.getvalue())
    assert rgb.size == UPRIGHT.size
