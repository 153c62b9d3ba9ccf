"""Opening untrusted images within limits (used by validation and the service).

Dimensions are read from the header before any pixel is decoded, so a
decompression bomb is refused without allocating it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageStat, UnidentifiedImageError

from ocrops.errors import ErrorCode, OcropsError

SUPPORTED_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG"})


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
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise _unreadable(f"not a recognised image ({exc.__class__.__name__})") from exc
    fmt = image.format or "unknown"
    if fmt not in SUPPORTED_FORMATS:
        raise _unreadable(f"format {fmt} is not supported; use PNG or JPEG")
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


def decode_rgb(image: Image.Image) -> tuple[Image.Image, float]:
    """Decode a header-checked image to RGB; returns it with its mean brightness (0-255)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            rgb = image.convert("RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise _unreadable(f"decoding failed: {exc}") from exc
    return rgb, float(ImageStat.Stat(rgb.convert("L")).mean[0])


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
