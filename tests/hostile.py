"""Small files that cost a decoder far more than their size (what the third probe sent), built byte by byte."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _segment(marker: int, body: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body


def progressive_jpeg(side: int = 5000, scans: int = 5800) -> bytes:
    """A greyscale progressive JPEG declaring ``side`` x ``side`` with ``scans`` empty AC scans: each scan makes
    libjpeg walk every block of the image, so decoding costs ``scans`` x pixels for ~10 bytes a scan."""
    one_code = bytes([1] + [0] * 15)  # one Huffman code of length 1
    out = b"\xff\xd8" + _segment(0xDB, b"\x00" + bytes([1] * 64))
    out += _segment(0xC2, struct.pack(">BHHB", 8, side, side, 1) + b"\x01\x11\x00")
    out += _segment(0xC4, b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\xe0")
    out += _segment(0xDA, b"\x01\x01\x00\x00\x00\x00")  # the DC scan
    out += _segment(0xDA, b"\x01\x01\x00\x01\x3f\x00") * scans
    return out + b"\xff\xd9"


def tiff_strip_bomb(side: int = 5000, rows_per_strip: int = 100) -> bytes:
    """A greyscale Deflate TIFF of ``side`` x ``side`` whose strips all point at one compressed block of blank
    rows: about a kilobyte that decodes to ``side``² pixels."""
    block = zlib.compress(b"\xff" * side * rows_per_strip, 9)
    strips = -(-side // rows_per_strip)
    entries = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, 8), (262, 3, 1, 1),
               (273, 4, strips, None), (277, 3, 1, 1), (278, 4, 1, rows_per_strip), (279, 4, strips, None)]
    ifd_at = 8
    arrays_at = ifd_at + 2 + 12 * len(entries) + 4
    offsets_at, counts_at = arrays_at, arrays_at + 4 * strips
    data_at = counts_at + 4 * strips
    out = b"II*\x00" + struct.pack("<I", ifd_at) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 273:
            value = offsets_at
        elif tag == 279:
            value = counts_at
        packed = struct.pack("<H", value) + b"\x00\x00" if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    out += struct.pack("<I", 0)
    out += struct.pack(f"<{strips}I", *[data_at] * strips) + struct.pack(f"<{strips}I", *[len(block)] * strips)
    return out + block


def multipage_tiff(pages: int = 3, size: tuple[int, int] = (320, 40)) -> bytes:
    buf = io.BytesIO()
    frames = [Image.new("L", size, 255 - 40 * i) for i in range(pages)]
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def encrypted_pdf(text: str = "Creatinine 88 umol/L") -> bytes:
    """A one-page PDF that opens only with a password."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, encrypt="secret")
    pdf.drawString(72, 700, text)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
