"""Synthetic report pages rendered from a line recipe: a header, a patient block, a results table of 3-6
columns, a footer, and distractors (a red stamp, pen marks) that carry no label; scanned or photographed.

Every text line's polygon is known from where it was drawn and follows the page through the same
albumentations transform as the pixels. Some photos are saved turned, with the EXIF orientation that turns
them back (as phones do); labels are always in the upright frame. Same recipe and seed, same bytes.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from ocrops.data.augment import page_degradations
from ocrops.data.contract import IMAGES_DIR
from ocrops.data.fonts import FontFace, find_font
from ocrops.data.pages import PageLine, PageRow, box_polygon, write_pages
from ocrops.data.split import sha256_bytes, split_for_hash
from ocrops.data.synth import LabTest, LineWriter, PageSpec, Recipe, render_line

# the transpose that stores an upright page sideways for each EXIF orientation (a viewer undoes it)
STORED_SIDEWAYS = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
INK = {"black": (20, 20, 24), "stamp": (196, 36, 40), "pen": (28, 52, 150)}


@dataclass
class PageSummary:
    count: int
    splits: dict[str, int]
    lines: int
    photos: int
    exif: int
    bytes: int


class _Canvas:
    """An RGB page; text is drawn as rendered line images, multiplied onto the paper."""

    def __init__(self, size: tuple[int, int], paper: int, faces: list[FontFace], fallbacks: list[FontFace],
                 rng: random.Random) -> None:
        self.image = Image.new("RGB", size, (paper, paper, paper - 4))
        self.faces, self.fallbacks, self.rng = faces, fallbacks, rng
        self.face = rng.choice(faces)
        self.lines: list[tuple[str, list[float]]] = []
        self.ignore: list[list[float]] = []
        self._rendered: dict[tuple[str, int], Image.Image] = {}  # layout measures a line, then draws it

    def measure(self, text: str, size: int) -> tuple[int, int]:
        line = self._render(text, size)
        return line.width - 4, line.height - 4

    def _render(self, text: str, size: int) -> Image.Image:
        if (text, size) not in self._rendered:
            self._rendered[text, size] = render_line(text, self.face, [f for f in self.faces if f != self.face]
                                                     + self.fallbacks, size=size, pad=2, paper=255, ink=0)
        return self._rendered[text, size]

    def text(self, text: str, x: float, y: float, size: int, colour: str = "black", label: bool = True) -> list[float]:
        """Draw ``text`` with its top-left at (x, y); returns its box [x1, y1, x2, y2] (the font's cell)."""
        line = self._render(text, size)
        ink = np.asarray(line, np.float32)[..., None] / 255.0  # 1 = paper, 0 = ink
        x0, y0 = int(round(x)) - 2, int(round(y)) - 2
        region = np.asarray(self.image.crop((x0, y0, x0 + line.width, y0 + line.height)), np.float32)
        colour_rgb = np.array(INK[colour], np.float32)
        blended = region * ink + colour_rgb * (1 - ink) * (region / 255.0)
        self.image.paste(Image.fromarray(blended.clip(0, 255).astype(np.uint8)), (x0, y0))
        box = [x0 + 2, y0 + 2, x0 + line.width - 2, y0 + line.height - 2]
        (self.lines if label else self.ignore).append((text, box) if label else box)
        return box

    def rule(self, y: float, x1: float, x2: float, width: int = 2) -> None:
        ImageDraw.Draw(self.image).line([(x1, y), (x2, y)], fill=(60, 60, 60), width=width)

    def stamp(self, cx: float, cy: float, radius: int, words: str) -> None:
        draw = ImageDraw.Draw(self.image)
        box = [cx - radius, cy - radius, cx + radius, cy + radius]
        draw.ellipse(box, outline=INK["stamp"], width=max(3, radius // 18))
        star = [(cx + math.cos(a) * r, cy - radius * 0.35 + math.sin(a) * r)
                for i in range(10) for a, r in [(math.pi / 2 + i * math.pi / 5 - math.pi, radius * (0.22 if i % 2
                                                                                                else 0.09))]]
        draw.polygon(star, fill=INK["stamp"])
        size = max(12, radius // 4)
        w, _ = self.measure(words, size)
        self.text(words, cx - w / 2, cy + radius * 0.1, size, "stamp", label=False)
        self.ignore.append(box)

    def pen_mark(self, x: float, y: float, height: float) -> None:
        """A tick or a scribble next to a value, as a reviewer leaves them."""
        draw, rng = ImageDraw.Draw(self.image), self.rng
        if rng.random() < 0.5:
            points = [(x, y + height * 0.5), (x + height * 0.35, y + height), (x + height * 1.1, y - height * 0.2)]
        else:
            points = [(x + i * height * 0.3, y + height * (0.3 + 0.5 * rng.random())) for i in range(8)]
        draw.line(points, fill=INK["pen"], width=max(2, int(height / 9)), joint="curve")
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        self.ignore.append([min(xs) - 3, min(ys) - 3, max(xs) + 3, max(ys) + 3])


def _cells(writer: LineWriter, lab: LabTest, columns: list[str], rng: random.Random) -> list[str]:
    span = lab.high - lab.low
    value = rng.uniform(max(0.0, lab.low - 0.3 * span), lab.high + 0.5 * span)
    shown = f"{value:.{lab.decimals}f}"
    flag = "↑" if value > lab.high else ("↓" if value < lab.low and lab.low > 0 else "")
    low, high = f"{lab.low:.{lab.decimals}f}", f"{lab.high:.{lab.decimals}f}"
    cells = {"项目": lab.name, "英文名称": lab.en or lab.name.split("(")[-1].rstrip(")"), "结果": shown,
             "提示": flag, "单位": lab.unit, "参考范围": f"<{high}" if lab.low <= 0 else f"{low}-{high}"}
    return [cells[c] for c in columns]


def _columns(rng: random.Random, count: int) -> list[str]:
    optional = ["英文名称", "提示", "单位", "参考范围"]
    chosen = set(rng.sample(optional, count - 2))
    return [c for c in ["项目", "英文名称", "结果", "提示", "单位", "参考范围"] if c in ("项目", "结果") or c in chosen]


def render_page(recipe: Recipe, spec: PageSpec, index: int, faces: list[FontFace], fallbacks: list[FontFace]
                ) -> tuple[Image.Image, list[tuple[str, list[float]]], list[list[float]]]:
    """One upright page: the image, its labelled lines (text, box) in reading order, and ignore boxes."""
    rng = random.Random(f"{spec.seed}-page-{index}")
    writer = LineWriter(recipe.terms, rng)
    width, height = spec.size
    size = rng.randint(*spec.font_size)
    pitch = int(size * rng.uniform(1.55, 1.8))
    canvas = _Canvas(spec.size, rng.randint(236, 252), faces, fallbacks, rng)
    left, top = rng.randint(80, 110), rng.randint(70, 100)
    right = width - left
    target = rng.randint(*spec.lines)

    y = float(top)
    for text, scale in ((rng.choice(spec.titles), 1.7), (rng.choice(spec.reports), 1.35)):
        w, h = canvas.measure(text, int(size * scale))
        canvas.text(text, (width - w) / 2, y, int(size * scale))
        y += h + pitch * 0.6

    # the patient block: fields in three columns, far enough apart to stay separate lines
    fields = [f"姓名: {writer.write('{name}')}", f"性别: {writer.write('{sex}')}", f"年龄: {writer.write('{age}')}岁",
              f"科室: {writer.write('{dept}')}", f"床号: {writer.write('{bed}')}", f"住院号: {writer.write('{mrn}')}",
              f"标本类型: {writer.write('{specimen}')}", f"送检日期: {writer.write('{date}')}",
              f"临床诊断: {writer.write('{diagnosis}')}"]
    fields = fields[: rng.randint(6, 9)]
    column_width = (right - left) / 3
    column = 0
    for text in fields:
        w, _ = canvas.measure(text, size)
        if column > 0 and column * column_width + w > right - left:
            column, y = 0, y + pitch
        canvas.text(text, left + column * column_width, y, size)
        column = column + max(1, math.ceil((w + 3 * size) / column_width))
        if column >= 3:
            column, y = 0, y + pitch
    if column:
        y += pitch
    canvas.rule(y + pitch * 0.2, left, right)
    y += pitch * 0.6

    # the results table: a header row and rows of cells, each cell one line, read row by row
    columns = _columns(rng, rng.randint(*spec.columns))
    footer_lines = 4
    labelled = len(canvas.lines)
    room = int((height - y - top - 4.5 * pitch) // pitch) - 1
    table = [list(columns)]
    # rows until the page holds its target of lines (an empty flag cell is no line), or the page is full
    while len(table) - 1 < 2 or (
            len(table) - 1 < room and labelled + sum(bool(c) for row in table for c in row) + footer_lines < target):
        table.append(_cells(writer, rng.choice(recipe.terms.labs), columns, rng))
    widths = [max(canvas.measure(row[c], size)[0] if row[c] else 0 for row in table) for c in range(len(columns))]
    gap = max(3 * size, (right - left - sum(widths)) / max(1, len(columns) - 1))
    while len(columns) > 3 and sum(widths) + gap * (len(columns) - 1) > right - left:
        drop = next(i for i, c in enumerate(columns) if c not in ("项目", "结果"))
        for row in table:
            del row[drop]
        del columns[drop], widths[drop]
        gap = max(3 * size, (right - left - sum(widths)) / max(1, len(columns) - 1))
    xs = [left + sum(widths[:c]) + gap * c for c in range(len(columns))]
    for r, row in enumerate(table):
        for c, cell in enumerate(row):
            if cell:
                box = canvas.text(cell, xs[c], y, size)
                if r and columns[c] == "结果" and rng.random() < 0.04:
                    canvas.pen_mark(box[2] + size * 0.4, box[1], box[3] - box[1])
        if r == 0:
            canvas.rule(y + pitch * 0.85, left, right, width=1)
        y += pitch
    canvas.rule(y, left, right)
    y += pitch * 0.5

    footer = [f"检验者: {writer.write('{name}')}", f"审核者: {writer.write('{name}')}",
              f"报告日期: {writer.write('{date}')}"]
    for c, text in enumerate(footer):
        canvas.text(text, left + c * column_width, y, size)
    y += pitch
    canvas.text("* 本报告仅对所检标本负责 / Results relate only to the specimen tested", left, y, int(size * 0.85))
    if rng.random() < 0.7:
        radius = rng.randint(int(size * 3), int(size * 4.2))
        canvas.stamp(right - radius * 1.6, min(height - radius - 10, y + radius * 0.2), radius, "检验专用章")
    return canvas.image, canvas.lines, canvas.ignore


def _photograph(image: Image.Image, lines: list[tuple[str, list[float]]], ignore: list[list[float]], photo: bool,
                seed: int) -> tuple[Image.Image, list[tuple[str, list[list[float]]]], list[list[list[float]]]]:
    """The page through a scanner or a phone camera; polygons follow the pixels. Returns the image, the
    labelled (text, polygon) lines still whole in it, and the ignore polygons."""
    polygons = [box_polygon(box) for _, box in lines] + [box_polygon(box) for box in ignore]
    points = np.array([p for polygon in polygons for p in polygon], np.float32)
    out = page_degradations(photo, seed=seed)(image=np.asarray(image), keypoints=points)
    moved = np.asarray(out["keypoints"], np.float32).reshape(-1, 4, 2)
    h, w = out["image"].shape[:2]
    inside = (moved[..., 0] >= 0).all(1) & (moved[..., 0] <= w - 1).all(1) & (moved[..., 1] >= 0).all(1) & (
        moved[..., 1] <= h - 1).all(1)
    moved[..., 0] = moved[..., 0].clip(0, w - 1)
    moved[..., 1] = moved[..., 1].clip(0, h - 1)
    quads = [q.round(1).tolist() for q in moved]
    # a line the camera cut off at the image border cannot be read whole: it is neither right nor wrong
    n = len(lines)
    kept = [(text, q) for (text, _), q, seen in zip(lines, quads[:n], inside[:n], strict=True) if seen]
    cut = [q for q, seen in zip(quads[:n], inside[:n], strict=True) if not seen]
    return Image.fromarray(out["image"]), kept, quads[n:] + cut


def synthesize_pages(recipe: Recipe, out_dir: str | Path, progress: bool = True) -> PageSummary:
    """Render ``recipe.pages.count`` pages into a page dataset directory (pages.jsonl + images/)."""
    spec = recipe.pages or PageSpec()
    out = Path(out_dir)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    faces = [find_font(name) for name in recipe.fonts.faces]
    fallbacks = [find_font(name) for name in recipe.fonts.fallback]
    rows: list[PageRow] = []
    photos = turned = total = 0
    for i in tqdm(range(spec.count), desc="synth pages", unit="page", disable=not progress):
        rng = random.Random(f"{spec.seed}-look-{i}")
        upright, lines, ignore = render_page(recipe, spec, i, faces, fallbacks)
        photo = rng.random() < spec.photo_share
        image, kept, ignored = _photograph(upright, lines, ignore, photo, rng.randrange(2**31))
        options: dict = {"quality": rng.randint(*spec.jpeg_quality)}
        if photo and rng.random() < spec.exif_share:
            orientation = rng.choice(sorted(STORED_SIDEWAYS))
            exif = Image.Exif()
            exif[0x0112] = orientation
            image, options["exif"] = image.transpose(STORED_SIDEWAYS[orientation]), exif
            turned += 1
        buf = io.BytesIO()
        image.save(buf, format="JPEG", **options)
        data = buf.getvalue()
        name = f"{IMAGES_DIR}/p{i:05d}.jpg"
        (out / name).write_bytes(data)
        rows.append(PageRow(name, [PageLine(text, quad) for text, quad in kept],
                            split_for_hash(sha256_bytes(data), spec.split), ignored,
                            extra={"capture": "photo" if photo else "scan"}))
        photos += photo
        total += len(data)
    write_pages(out, rows)
    splits = {s: sum(1 for r in rows if r.split == s) for s in ("train", "val", "test")}
    return PageSummary(len(rows), splits, sum(len(r.lines) for r in rows), photos, turned, total)
