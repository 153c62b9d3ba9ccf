"""Untrusted request payloads -> RGB images, within the service's limits (codes 4001, 4002, 5001)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from ocrops.data.documents import DocumentLimits
from ocrops.data.images import ImageLimits, decode, inspect
from ocrops.errors import ErrorCode, OcropsError

if TYPE_CHECKING:
    from ocrops.config import ServeParams

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,",
                       re.ASCII)


@dataclass(frozen=True)
class PayloadLimits:
    max_bytes: int = 10_000_000
    max_side: int = 5000
    max_pixels: int = 25_000_000
    max_jpeg_scans: int = 100

    @property
    def image(self) -> ImageLimits:
        return ImageLimits(max_side=self.max_side, max_pixels=self.max_pixels, max_bytes=self.max_bytes,
                           max_jpeg_scans=self.max_jpeg_scans)

    @classmethod
    def of(cls, serve: ServeParams) -> PayloadLimits:
        """One image's limits as the serve settings state them."""
        return cls(serve.max_image_bytes, serve.max_side, serve.max_pixels, serve.max_jpeg_scans)


def document_limits(serve: ServeParams) -> DocumentLimits:
    """A document's limits as the serve settings state them: what the service refuses, anyone reading as it does
    refuses too."""
    return DocumentLimits(PayloadLimits.of(serve).image, serve.max_pages, serve.pdf_dpi)


def decode_base64(text: str, limits: PayloadLimits) -> bytes:
    """Base64 text or a ``data:image/...;base64,`` URI -> bytes; 4002 when it is neither, 5001 when too big."""
    if not isinstance(text, str) or not text:
        raise OcropsError(ErrorCode.INVALID_INPUT, "image must be a non-empty base64 string or data URI")
    if text.startswith("data:"):
        match = _DATA_URI.match(text)
        if match is None or not match.group("b64"):
            raise OcropsError(ErrorCode.INVALID_INPUT, "data URI must be 'data:<mime>;base64,<data>'")
        text = text[match.end():]
    # 4 base64 characters carry 3 bytes: refuse oversized payloads before decoding them
    if len(text) * 3 // 4 > limits.max_bytes + 3:
        raise OcropsError(ErrorCode.TOO_LARGE, f"image exceeds {limits.max_bytes} bytes")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"image is not valid base64: {exc}") from exc


def open_image(data: bytes, limits: PayloadLimits) -> Image.Image:
    """Encoded image bytes -> RGB image; its header is checked against the limits before decoding."""
    return decode(inspect(data, limits.image)[0])


def image_from_base64(text: str, limits: PayloadLimits) -> Image.Image:
    return open_image(decode_base64(text, limits), limits)
