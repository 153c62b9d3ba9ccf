"""One picture saved the ways scanners, phones and editors save it: sideways with an EXIF orientation,
black text on a transparent background, 16-bit grey, a palette whose transparent index is black, CMYK, and
in every format the service accepts (HEIC and AVIF photos among them). Each must read as the plain RGB picture does."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ocrops.data.page_synth import STORED_SIDEWAYS  # stored pixels = upright.transpose(...)

LOSSY = {"jpeg_exif6", "heic_exif6", "avif_exif6"}


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def with_orientation(upright: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    """An image whose pixels are stored turned, with the Orientation tag that tells a viewer to turn them back
    (phones write JPEG or HEIC; PNG and TIFF carry the same tag, losslessly; pillow-heif writes the turn as the
    HEIF container's rotation, as phones do)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"quality": 95} if fmt in ("JPEG", "HEIF", "AVIF") else {}
    return encode(upright.transpose(STORED_SIDEWAYS[orientation]), fmt, exif=exif.tobytes(), **options)


def _ink(upright: Image.Image) -> np.ndarray:
    """How much ink each pixel holds (0 paper .. 255 black), from a black-on-white picture."""
    return 255 - np.asarray(upright.convert("L"))


def variants(upright: Image.Image) -> dict[str, bytes]:
    """Encoded variants of ``upright``, which must be dark text on white paper (255). All but ``jpeg_exif6``
    are lossless, so each must decode to exactly the upright pixels."""
    ink = _ink(upright)
    grey = np.asarray(upright.convert("L"))
    rgba = np.zeros(grey.shape + (4,), np.uint8)
    rgba[..., 3] = ink  # black text, opaque where the ink is
    la = np.stack([np.zeros_like(grey), ink], axis=-1)
    # palette: index 0 is black and transparent (the paper), indices 1..255 are grey levels of the text
    levels = np.clip(grey, 0, 254).astype(np.uint8) + 1
    indices = np.where(grey >= 250, 0, levels).astype(np.uint8)
    palette = Image.fromarray(indices, "P")
    palette.putpalette([0, 0, 0] + [v for g in range(255) for v in (g, g, g)])
    palette.info["transparency"] = 0
    return {
        "exif3": with_orientation(upright, 3, "PNG"),
        "exif6": with_orientation(upright, 6, "PNG"),
        "exif8": with_orientation(upright, 8, "TIFF"),
        "jpeg_exif6": with_orientation(upright, 6),
        "heic_exif6": with_orientation(upright, 6, "HEIF"),
        "avif_exif6": with_orientation(upright, 6, "AVIF"),
        "rgba": encode(Image.fromarray(rgba, "RGBA")),
        "la": encode(Image.fromarray(la, "LA")),
        "grey16": encode(Image.fromarray(grey.astype(np.uint16) * 257)),
        "palette_transparent_black": encode(palette, transparency=0),
        "cmyk": encode(upright.convert("CMYK"), "TIFF"),
        "tiff": encode(upright, "TIFF", compression="tiff_lzw"),
        "webp": encode(upright, "WEBP", lossless=True),
        "bmp": encode(upright, "BMP"),
    }
