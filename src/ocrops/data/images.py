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
from pillow_heif import register_heif_opener

from ocrops.errors import ErrorCode, OcropsError

# what Pillow decodes safely within the same header-checked limits (HEIC/HEIF through pillow-heif, which turns
# a photo upright by its container's rotation and resets its EXIF orientation, so it is not turned twice)
SUPPORTED_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "TIFF", "WEBP", "BMP", "HEIF", "AVIF"})
FORMAT_NAMES = "PNG, JPEG, TIFF, WebP, BMP, HEIC/HEIF or AVIF"
IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".heic",
                                            ".heif", ".avif"})  # the files of those formats, for folder walks
register_heif_opener()
PAPER = (255, 255, 255)
# files people send that are not images ocrops reads, by their first bytes: named in the refusal
_OTHER_KINDS = ((b"%PDF-", "a PDF document"), (b"GIF8", "a GIF image"), (b"PK\x03\x04", "a ZIP archive (DOCX, XLSX?)"),
                (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"), (b"\xff\x0a", "a JPEG XL image"))
# pages of a multi-page TIFF counted up to this many (Pillow's own count walks every page, in quadratic time)
PAGES_COUNTED = 100


@dataclass(frozen=True)
class ImageLimits:
    max_side: int = 5000
    max_pixels: int = 25_000_000
    max_bytes: int | None = None
    # each scan of a progressive JPEG makes the decoder walk the whole image: ~10 bytes can cost a pass over
    # 25 megapixels, so the scans are counted from the file before decoding (libjpeg writes 10 at most)
    max_jpeg_scans: int = 100


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header says, read without decoding a pixel."""

    format: str
    mode: str
    width: int
    height: int
    pages: int = 1  # a multi-page TIFF's pages (PAGES_COUNTED + 1: more than that); only the first is read
    scans: int = 1  # JPEG: start-of-scan markers (an upper bound on its scans)

    @property
    def pixels(self) -> int:
        return self.width * self.height


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


def other_kind(data: bytes) -> str | None:
    """What a file that is not a supported image is, from its first bytes (None: not recognised)."""
    for magic, kind in _OTHER_KINDS:
        if data.startswith(magic):
            return kind
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower():
        return "an SVG drawing"
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    return None


def _unsupported(kind: str) -> OcropsError:
    # the service and `ocrops predict` read PDFs (data.documents); a dataset's image must be an image
    return _unreadable(f"{kind} is not an image ocrops reads here; send {FORMAT_NAMES}")


def read_header(data: bytes) -> tuple[Image.Image, str, int, int]:
    """Identify an image from its header without decoding pixels: (lazy image, format, width, height)."""
    if not data:
        raise _unreadable("empty file (0 bytes)")
    if (kind := other_kind(data)) is not None:
        raise _unsupported(kind)
    with warnings.catch_warnings():
        # Pillow warns (then errors) on huge images; our own limits decide instead.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise OcropsError(ErrorCode.TOO_LARGE, f"decompression bomb refused: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - Pillow's parsers raise many types on malformed bytes
            raise _unreadable(f"not a recognised image ({exc.__class__.__name__}); send {FORMAT_NAMES}") from exc
    fmt = image.format or "unknown"
    if fmt not in SUPPORTED_FORMATS:
        raise _unreadable(f"format {fmt} is not supported; send {FORMAT_NAMES}")
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


def count_pages(image: Image.Image, cap: int = PAGES_COUNTED) -> int:
    """A multi-page image's pages, counted up to ``cap`` + 1; the image is left on its first page."""
    if not getattr(image, "is_animated", False):
        return 1
    pages = 1
    try:
        while pages <= cap:
            image.seek(pages)
            pages += 1
    except (EOFError, ValueError, OSError):  # the last page, or a broken pointer to the next one
        pass
    image.seek(0)
    return pages


def inspect(data: bytes, limits: ImageLimits = ImageLimits()) -> tuple[Image.Image, ImageHeader]:
    """An untrusted image's header, checked against ``limits`` before any pixel is decoded: 4001 when it is not
    a supported image, 5001 when decoding it would cost too much (bytes, side, pixels, JPEG scans)."""
    if limits.max_bytes is not None and len(data) > limits.max_bytes:
        raise OcropsError(ErrorCode.TOO_LARGE, f"image is {len(data)} bytes, limit {limits.max_bytes}")
    image, fmt, width, height = read_header(data)
    check_size(width, height, limits)
    # in entropy-coded data 0xFF is followed by 0x00 or a restart marker, so this counts scans (plus, at worst,
    # a few chance pairs in metadata): never fewer than there are
    scans = data.count(b"\xff\xda") if fmt == "JPEG" else 1
    if scans > limits.max_jpeg_scans:
        raise OcropsError(ErrorCode.TOO_LARGE, f"JPEG with {scans} scans exceeds {limits.max_jpeg_scans} (each scan "
                                               "is a pass over the whole image)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pages = count_pages(image) if fmt == "TIFF" else 1
    return image, ImageHeader(fmt, image.mode, width, height, pages, scans)


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
    # a photo saved sideways with an Orientation tag; a multi-page TIFF is read on the page it is on (its first
    # as opened: ``count_pages`` leaves it there)
    image = ImageOps.exif_transpose(image)
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


def decode(image: Image.Image) -> Image.Image:
    """Decode a header-checked image to RGB (see ``to_rgb``); 4001 when its pixels do not decode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return to_rgb(image)
        except Image.DecompressionBombError as exc:
            raise OcropsError(ErrorCode.TOO_LARGE, f"decompression bomb refused: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - TIFF/WebP/BMP decoders raise struct.error, EOFError, ...
            raise _unreadable(f"decoding failed: {exc.__class__.__name__}: {exc}") from exc


def decode_rgb(image: Image.Image) -> tuple[Image.Image, float]:
    """``decode`` and the image's mean brightness (0-255)."""
    rgb = decode(image)
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
    image, header = inspect(data, limits)
    rgb, brightness = decode_rgb(image)
    return rgb, ImageFacts(format=header.format, mode=header.mode, width=header.width, height=header.height,
                           brightness=brightness)
