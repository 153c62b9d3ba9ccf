import io

import pytest
from PIL import Image

from conftest import line_image, png_with_declared_size, truncated_png
from ocrops.data.images import ImageLimits, open_rgb
from ocrops.errors import ErrorCode, OcropsError


def _png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def test_valid_png_decodes_to_rgb_with_facts():
    rgb, facts = open_rgb(_png(line_image("ok").convert("L")))
    assert rgb.mode == "RGB"
    assert facts.mode == "L" and facts.format == "PNG"
    assert (facts.width, facts.height) == (220, 40)
    assert 100 < facts.brightness < 250


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", ErrorCode.UNREADABLE_IMAGE),
        (b"not an image at all", ErrorCode.UNREADABLE_IMAGE),
        (truncated_png(), ErrorCode.UNREADABLE_IMAGE),
        (_png(line_image("gif"), "GIF"), ErrorCode.UNREADABLE_IMAGE),
        (png_with_declared_size(6000, 10), ErrorCode.TOO_LARGE),
        (png_with_declared_size(30000, 30000), ErrorCode.TOO_LARGE),
    ],
    ids=["empty", "garbage", "truncated", "gif", "wide", "bomb"],
)
def test_bad_images_raise_documented_codes(data, code):
    with pytest.raises(OcropsError) as info:
        open_rgb(data)
    assert info.value.code == code
    assert str(int(code)) in str(info.value)


def test_pixel_limit_is_separate_from_side_limit():
    with pytest.raises(OcropsError, match="pixels"):
        open_rgb(png_with_declared_size(3000, 3000), ImageLimits(max_side=5000, max_pixels=1_000_000))


def test_byte_limit():
    with pytest.raises(OcropsError) as info:
        open_rgb(_png(line_image("x")), ImageLimits(max_bytes=10))
    assert info.value.code == ErrorCode.TOO_LARGE
