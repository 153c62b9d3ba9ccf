"""The page gallery: pages with their labelled and detected lines drawn, coloured by what happened to them
(read, missed, split, merged, false, ignored), as PNG files and one picture of the worst pages side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from ocrops.evaluation.metrics.pages import PageMatch

Polygon = Sequence[Sequence[float]]
COLOURS = {  # RGB; the legend in the picture and the README use these names
    "read": (30, 160, 60),  # a labelled line matched by one detection (IoU >= 0.5)
    "missed": (220, 30, 30),  # a labelled line no detection matched
    "split": (240, 140, 0),  # a labelled line two detections cut in parts
    "merged": (170, 40, 200),  # a detection holding two labelled lines
    "false": (40, 90, 230),  # a detection matching nothing labelled
    "ignored": (150, 150, 150),  # a stamp or pen mark region: neither right nor wrong
}


def _outline(draw: ImageDraw.ImageDraw, points: Polygon, colour: tuple[int, int, int], width: int) -> None:
    corners = [(float(x), float(y)) for x, y in points]
    draw.line([*corners, corners[0]], fill=colour, width=width)


def draw_page(image: Image.Image, truth: Sequence[Polygon], found: Sequence[Polygon], m: PageMatch,
              ignore: Sequence[Polygon] = ()) -> Image.Image:
    """The page with every labelled line and detection outlined in its outcome's colour."""
    page = image.convert("RGB").copy()
    draw = ImageDraw.Draw(page)
    width = max(2, round(max(page.size) / 600))
    for region in ignore:
        _outline(draw, region, COLOURS["ignored"], width)
    split, matched = set(m.split), {i for i, _ in m.pairs}
    for i, points in enumerate(truth):
        kind = "read" if i in matched else "split" if i in split else "missed"
        _outline(draw, points, COLOURS[kind], width if kind == "read" else 2 * width)
    merged = set(m.merged)
    for j in m.false:
        _outline(draw, found[j], COLOURS["merged" if j in merged else "false"], 2 * width)
    for j in m.ignored:
        _outline(draw, found[j], COLOURS["ignored"], width)
    return page


def contact_sheet(pages: Sequence[Image.Image], captions: Sequence[str], height: int = 900) -> Image.Image:
    """Pages side by side at one height, a caption above each and the colour legend below."""
    scaled = [p.resize((max(1, round(p.width * height / p.height)), height), Image.Resampling.LANCZOS)
              for p in pages]
    gap, top, bottom = 16, 28, 34
    sheet = Image.new("RGB", (sum(p.width for p in scaled) + gap * (len(scaled) + 1), height + top + bottom),
                      "white")
    draw = ImageDraw.Draw(sheet)
    x = gap
    for page, caption in zip(scaled, captions, strict=True):
        sheet.paste(page, (x, top))
        draw.text((x, 8), caption, fill=(0, 0, 0))
        x += page.width + gap
    x = gap
    for name, colour in COLOURS.items():
        draw.rectangle([x, height + top + 10, x + 14, height + top + 24], outline=colour, width=3)
        draw.text((x + 20, height + top + 12), name, fill=(0, 0, 0))
        x += 110
    return sheet


def write_gallery(out: str | Path, pages: Sequence[tuple[str, Image.Image]], sheet: Image.Image | None
                  ) -> list[Path]:
    """Each drawn page as ``out/NAME.png`` and the contact sheet as ``out/worst_pages.png`` (none without)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    written = []
    for name, page in pages:
        path = out / f"{Path(name).stem}.png"
        page.thumbnail((1240, 1240))
        page.save(path, optimize=True)
        written.append(path)
    if sheet is None:
        return written
    sheet.save(out / "worst_pages.png", optimize=True)
    return [*written, out / "worst_pages.png"]
