"""Locating system fonts by family name and checking which characters they can draw."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property, lru_cache

from fontTools.ttLib import TTFont
from PIL import ImageFont


class FontNotFound(LookupError):
    pass


@dataclass(frozen=True)
class FontFace:
    family: str
    path: str
    index: int = 0

    @cached_property
    def codepoints(self) -> frozenset[int]:
        font = TTFont(self.path, fontNumber=self.index, lazy=True)
        try:
            return frozenset(font.getBestCmap() or {})
        finally:
            font.close()

    def covers(self, ch: str) -> bool:
        return ord(ch) in self.codepoints

    def truetype(self, size: int) -> ImageFont.FreeTypeFont:
        return _truetype(self.path, self.index, size)


@lru_cache(maxsize=256)
def _truetype(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index)


@lru_cache(maxsize=64)
def find_font(family: str) -> FontFace:
    """Find a regular-weight face of an installed font family (via fontconfig)."""
    if shutil.which("fc-match") is None:
        raise FontNotFound("fontconfig's fc-match is not installed (apt-get install fontconfig)")
    out = subprocess.run(
        ["fc-match", "-f", "%{file}\n%{index}\n%{family}", f"{family}:style=Regular"],
        capture_output=True, text=True, check=False,
    ).stdout.split("\n")
    if len(out) < 3 or family.lower() not in [f.strip().lower() for f in out[2].split(",")]:
        raise FontNotFound(
            f"font family {family!r} is not installed; `make fonts` installs the sample's fonts"
        )
    return FontFace(family=family, path=out[0], index=int(out[1] or 0))
