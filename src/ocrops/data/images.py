"""Opening untrusted images within limits, and one normalisation to what the model reads (used by
validation, training, evaluation and the service).

Dimensions are read from the header before any pixel is decoded, so a
decompression bomb is refused without allocating it. ``to_rgb`` turns whatever a scanner, a phone or an
editor saved into upright RGB on white paper: EXIF orientation applied, transparency composited on white,
16-bit and float greys scaled to 8 bits, palette and CMYK converted.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageStat

from ocrops.errors import ErrorCode, OcropsError

# what Pillow decodes safely within the same header-checked limits; the web page offers the same list
SUPPORTED_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "TIFF", "WEBP", "BMP"})
PAPER = (255, 255, 255)


@dataclass(frozen=True)
class ImageLimits:
    max_side: int = 5000
    max_pixels: int = 25_000_000
    max_bytes: int | None = None


@dataclass(frozen=True)
class ImageFacts:
    format: str
    mode: str
    width: int
    height: int
    brightness: float

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _unreadable(detail: str) -> OcropsError:
    return OcropsError(ErrorCode.UNREADABLE_IMAGE, f"unreadable image: {detail}")


def read_header(data: bytes) -> tuple[Image.Image, str, int, int]:
    """Identify an image from its header without decoding pixels: (lazy image, format, width, height)."""
    if not data:
        raise _unreadable("empty file (0 bytes)")
    with warnings.catch_warnings():
        # Pillow warns (then errors) on huge images; our own limits decide instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise OcropsError(ErrorCode.TOO_LARGE, f"decompression bomb refused: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - Pillow's parsers raise many types on malformed bytes
            raise _unreadable(f"not a recognised image ({exc.__class__.__name__})") from exc
    fmt = image.format or "unknown"
    if fmt not in SUPPORTED_FORMATS:
        raise _unreadable(f"format {fmt} is not supported; use PNG, JPEG, TIFF, WebP or BMP")
    width, height = image.size
    if width == 0 or height == 0:
        raise _unreadable(f"empty image {width}x{height}")
    return image, fmt, width, height


def check_size(width: int, height: int, limits: ImageLimits) -> None:
    """Raise 5001 when dimensions exceed the limits."""
    if max(width, height) > limits.max_side:
        raise OcropsError(ErrorCode.TOO_LARGE, f"{width}x{height} exceeds max side {limits.max_side}")
    if width * height > limits.max_pixels:
        raise OcropsError(ErrorCode.TOO_LARGE, f"{width}x{height} exceeds {limits.max_pixels} pixels")


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    """16-bit ("I;16*", "I") and float ("F") greys -> "L"; Pillow's own convert clips them to 0-255."""
    array = np.asarray(image)
    if image.mode == "F":
        scale = 255.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else 1.0
        return Image.fromarray(np.clip(np.nan_to_num(array) * scale, 0, 255).astype(np.uint8), "L")
    array = array.astype(np.int64)
    if image.mode.startswith("I;16") or int(array.max(initial=0)) > 255:
        array = array // 257  # 65535 -> 255
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any decoded image -> upright 8-bit RGB, transparency composited on white paper."""
    image = ImageOps.exif_transpose(image)  # a photo saved sideways with an Orientation tag
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # a multi-page TIFF: its first page
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        image = _eight_bit_grey(image)
    elif mode == "P" and "transparency" in image.info or mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("LA", "La", "RGBa", "RGBA"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, PAPER + (255,))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image.convert("RGB")


def decode_rgb(image: Image.Image) -> tuple[Image.Image, float]:
    """Decode a header-checked image to RGB (see ``to_rgb``); returns it with its mean brightness (0-255)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            rgb = to_rgb(image)
        except Image.DecompressionBombError as exc:
            raise OcropsError(ErrorCode.TOO_LARGE, f"decompression bomb refused: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - TIFF/WebP/BMP decoders raise struct.error, EOFError, ...
            raise _unreadable(f"decoding failed: {exc.__class__.__name__}: {exc}") from exc
    return rgb, float(ImageStat.Stat(rgb.convert("L")).mean[0])


def load_rgb(path: str | Path) -> Image.Image:
    """A trusted local image (already validated) -> RGB, normalised as the service normalises uploads."""
    with Image.open(path) as image:
        return to_rgb(image)


def open_rgb(source: bytes | str | Path, limits: ImageLimits = ImageLimits()) -> tuple[Image.Image, ImageFacts]:
    """Decode an image to RGB, enforcing format and size limits.

    Raises OcropsError 4001 (unreadable or unsupported) or 5001 (too large).
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if limits.max_bytes is not None and len(data) > limits.max_bytes:
        raise OcropsError(ErrorCode.TOO_LARGE, f"image is {len(data)} bytes, limit {limits.max_bytes}")
    image, fmt, width, height = read_header(data)
    check_size(width, height, limits)
    mode = image.mode
    rgb, brightness = decode_rgb(image)
    return rgb, ImageFacts(format=fmt, mode=mode, width=width, height=height, brightness=brightness)
