"""A TrueType font whose glyphs draw nothing: the text layer of a searchable PDF is written in it, so the
text is found, selected and copied where it lies on the page image, and never shows."""

from __future__ import annotations

import io

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

UNITS_PER_EM = 1000
ADVANCE = 500  # every glyph, the space included: a word's place follows from its characters' count
ASCENT, DESCENT = 800, -200


def invisible_font(characters: str) -> bytes:
    """A font with one blank glyph per distinct character of ``characters`` (a glyph of its own each, so that the
    PDF's ToUnicode map gives every glyph back as its character)."""
    codes = sorted({ord(c) for c in characters} | {ord(" ")})
    names = [".notdef", *(f"g{code:X}" for code in codes)]
    builder = FontBuilder(UNITS_PER_EM, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({code: name for code, name in zip(codes, names[1:], strict=True)})
    blank = TTGlyphPen(None).glyph()
    builder.setupGlyf({name: blank for name in names})
    builder.setupHorizontalMetrics({name: (ADVANCE, 0) for name in names})
    builder.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    builder.setupNameTable({"familyName": "OcropsTextLayer", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=ASCENT, sTypoDescender=DESCENT, usWinAscent=ASCENT, usWinDescent=-DESCENT)
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()
