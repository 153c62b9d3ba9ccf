"""The error gallery: the worst-read lines with differences highlighted, and the top confusions (HTML)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from PIL import Image
from rapidfuzz.distance import Levenshtein


@dataclass(frozen=True)
class GalleryLine:
    image: str  # path
    reference: str
    prediction: str
    confidence: float
    baseline: str | None = None  # the base model's reading, for comparison

    @property
    def cer(self) -> float:
        return Levenshtein.distance(self.prediction, self.reference) / max(len(self.reference), 1)


def diff_html(reference: str, prediction: str) -> tuple[Markup, Markup]:
    """Both strings as HTML with the differing characters wrapped in <del> (reference) and <ins> (prediction)."""
    ref, pred = [], []
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(reference, prediction).as_list():
        a, b = escape(reference[i1:i2]), escape(prediction[j1:j2])
        if tag == "equal":
            ref.append(a)
            pred.append(b)
        else:
            ref.append(Markup("<del>{}</del>").format(a) if a else "")
            pred.append(Markup("<ins>{}</ins>").format(b) if b else "")
    return Markup("").join(ref), Markup("").join(pred)


def thumbnail_uri(path: str | Path, max_width: int = 640) -> str:
    """The image as an inline PNG data URI, so the report is one self-contained file."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, max(1, round(im.height * max_width / im.width))))
        buf = io.BytesIO()
        im.save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def worst_lines(lines: list[GalleryLine], n: int) -> list[GalleryLine]:
    """Lines read wrongly, worst CER first (ties in input order)."""
    wrong = [line for line in lines if line.prediction != line.reference]
    return sorted(wrong, key=lambda line: -line.cer)[:n]


def render_gallery(lines: list[GalleryLine], confusions: list[dict], summary: dict, out: str | Path,
                   title: str = "ocrops error gallery") -> Path:
    env = Environment(loader=PackageLoader("ocrops", "templates"), autoescape=select_autoescape())
    rows = []
    for line in lines:
        ref, pred = diff_html(line.reference, line.prediction)
        base = diff_html(line.reference, line.baseline)[1] if line.baseline is not None else None
        rows.append({"line": line, "ref": ref, "pred": pred, "base": base, "img": thumbnail_uri(line.image)})
    html = env.get_template("error_gallery.html.j2").render(title=title, rows=rows, confusions=confusions,
                                                            summary=summary)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
