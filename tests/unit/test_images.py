import io

import pytest
from PIL import Image

from conftest import line_image, png_with_declared_size, truncated_png
from ocrops.data.images import FORMAT_NAMES, ImageLimits, open_rgb
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


def test_jpeg_scans_are_counted_before_decoding():
    from hostile import progressive_jpeg

    from ocrops.data.images import inspect

    with pytest.raises(OcropsError) as refused:
        inspect(progressive_jpeg(5000, 5800))
    assert refused.value.code == ErrorCode.TOO_LARGE and "5801 scans" in refused.value.message
    buf = io.BytesIO()
    line_image("a progressive photo").save(buf, format="JPEG", progressive=True)
    _, header = inspect(buf.getvalue())
    assert header.format == "JPEG" and 1 < header.scans <= 12


def test_a_multi_page_tiff_says_how_many_pages_it_has_and_reads_its_first():
    from hostile import multipage_tiff

    from ocrops.data.images import PAGES_COUNTED, count_pages, decode, inspect

    image, header = inspect(multipage_tiff(3))
    assert header.pages == 3
    assert decode(image).getpixel((0, 0)) == (255, 255, 255)  # page 1 is white, the others grey
    _, many = inspect(multipage_tiff(PAGES_COUNTED + 20, size=(8, 8)))
    assert many.pages == PAGES_COUNTED + 1
    assert count_pages(Image.new("L", (4, 4))) == 1


@pytest.mark.parametrize(("data", "named"), [
    (b"%PDF-1.7\n...", "a PDF document"), (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
                                           "an SVG drawing"),
    (b"GIF89a\x01\x00\x01\x00", "a GIF image"), (b"PK\x03\x04rest", "a ZIP archive")])
def test_what_is_not_a_supported_image_is_named_with_the_formats_read(data, named):
    with pytest.raises(OcropsError) as refused:
        open_rgb(data)
    assert refused.value.code == ErrorCode.UNREADABLE_IMAGE
    assert named in refused.value.message and FORMAT_NAMES in refused.value.message
