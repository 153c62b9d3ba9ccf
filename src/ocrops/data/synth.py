"""Synthetic text-line datasets rendered from a recipe of domain terms and templates.

A recipe (YAML) names the fonts, the terms (drugs, lab tests, units, form
fields…), line templates with typed slots, and a seed. The same recipe and
seed give byte-identical images and labels, so a dataset can be regenerated
instead of shipped.
"""

from __future__ import annotations

import io
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tqdm import tqdm

from ocrops.config import SplitRatios
from ocrops.data.augment import scan_degradations
from ocrops.data.contract import IMAGES_DIR, LEXICON_FILE, LabelRow, write_labels
from ocrops.data.fonts import FontFace, find_font
from ocrops.data.split import sha256_bytes, split_for_hash

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabTest(_Model):
    name: str
    en: str | None = None
    unit: str
    low: float
    high: float
    decimals: int = 1


class Terms(_Model):
    drugs: list[str]
    drugs_en: list[str] = []
    doses: list[str]
    routes: list[str]
    frequencies: list[str]
    labs: list[LabTest]
    units: list[str]
    fields: list[str]
    departments: list[str]
    diagnoses: list[str]
    specimens: list[str] = []
    surnames: list[str]
    given_names: list[str]
    names_en: list[str] = []

    def lexicon(self) -> list[str]:
        """Domain terms a model must read right, deduplicated in recipe order."""
        terms = [*self.drugs, *self.drugs_en]
        for lab in self.labs:
            terms += [lab.name] + ([lab.en] if lab.en else [])
        terms += [*self.units, *self.fields, *self.departments, *self.diagnoses, *self.specimens]
        return list(dict.fromkeys(t for t in terms if t))


class Template(_Model):
    text: str
    weight: float = Field(1.0, gt=0)


class FontSpec(_Model):
    faces: list[str] = Field(min_length=1)
    fallback: list[str] = []


class ImageSpec(_Model):
    font_size: tuple[int, int] = (26, 40)
    pad: tuple[int, int] = (4, 12)
    format: str = Field("png", pattern="^(png|jpeg)$")
    jpeg_quality: int = Field(92, ge=50, le=100)


class PageSpec(_Model):
    """The ``pages:`` section of a recipe."""

    count: int = Field(180, gt=0)
    seed: int = 0
    split: SplitRatios = SplitRatios(train=0.6, val=0.1, test=0.3)
    size: tuple[int, int] = (1240, 1754)  # A4 at 150 dpi
    lines: tuple[int, int] = (30, 120)
    columns: tuple[int, int] = (3, 6)
    font_size: tuple[int, int] = (18, 24)
    photo_share: float = Field(0.4, ge=0, le=1)
    exif_share: float = Field(0.3, ge=0, le=1, description="of the photos: saved turned, with an EXIF orientation")
    jpeg_quality: tuple[int, int] = (70, 88)
    titles: list[str] = ["第一人民医院", "中心医院检验科", "City General Hospital", "人民医院 Laboratory"]
    reports: list[str] = ["检验报告单", "生化检验报告", "血常规检验报告", "Laboratory Report"]


class Recipe(_Model):
    """Either domain ``terms`` + ``templates``, or a plain-text ``corpus`` to cut lines from."""

    name: str
    seed: int = 0
    count: int = Field(gt=0)
    split: SplitRatios = SplitRatios()
    fonts: FontSpec
    image: ImageSpec = ImageSpec()
    degrade: float = Field(1.0, ge=0, le=1, description="strength of scan degradations")
    terms: Terms | None = None
    templates: list[Template] = []
    corpus: list[str] = []
    pages: PageSpec | None = None  # `ocrops synth pages`: whole report pages from the same terms

    @model_validator(mode="after")
    def _one_source(self) -> Recipe:
        if bool(self.terms and self.templates) == bool(self.corpus):
            raise ValueError("a recipe needs either terms + templates or a corpus")
        return self


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe; ``corpus_file`` (relative to the recipe) is read into ``corpus``."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if corpus_file := raw.pop("corpus_file", None):
        text = (path.parent / corpus_file).read_text(encoding="utf-8").splitlines()
        raw["corpus"] = [t.strip() for t in text if t.strip() and not t.startswith("#")]
    return Recipe.model_validate(raw)


def corpus_line(corpus: Sequence[str], rng: random.Random) -> tuple[str, str]:
    """A window of a random corpus sentence (3-8 words, or 6-20 CJK characters); returns (sentence, line)."""
    sentence = rng.choice(corpus)
    words = sentence.split()
    if len(words) > 1:
        n = min(len(words), rng.randint(3, 8))
        start = rng.randint(0, len(words) - n)
        return sentence, " ".join(words[start : start + n])
    n = min(len(sentence), rng.randint(6, 20))
    start = rng.randint(0, len(sentence) - n)
    return sentence, sentence[start : start + n]


class LineWriter:
    """Fills a template's slots; lab slots on one line share one sampled test."""

    def __init__(self, terms: Terms, rng: random.Random) -> None:
        self.t, self.rng = terms, rng
        self._lab: LabTest | None = None
        self._value: float | None = None
        self.slots: dict[str, Callable[[], str]] = {
            "drug": lambda: rng.choice(terms.drugs),
            "drug_en": lambda: rng.choice(terms.drugs_en or terms.drugs),
            "dose": lambda: rng.choice(terms.doses),
            "route": lambda: rng.choice(terms.routes),
            "freq": lambda: rng.choice(terms.frequencies),
            "days": lambda: str(rng.randint(3, 14)),
            "circled": lambda: rng.choice(CIRCLED),
            "unit": lambda: rng.choice(terms.units),
            "field": lambda: rng.choice(terms.fields),
            "dept": lambda: rng.choice(terms.departments),
            "diagnosis": lambda: rng.choice(terms.diagnoses),
            "specimen": lambda: rng.choice(terms.specimens or ["血清"]),
            "name": lambda: rng.choice(terms.surnames) + rng.choice(terms.given_names),
            "name_en": lambda: rng.choice(terms.names_en or ["Li Wei"]),
            "sex": lambda: rng.choice(["男", "女"]),
            "age": lambda: str(rng.randint(1, 95)),
            "bed": lambda: str(rng.randint(1, 60)),
            "mrn": lambda: f"{rng.choice(['ZY', 'MZ', 'H'])}{rng.randint(2019, 2026)}{rng.randint(0, 999999):06d}",
            "date": self._date,
            "time": lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            "temp": lambda: f"{rng.uniform(35.8, 40.5):.1f}",
            "pulse": lambda: str(rng.randint(52, 128)),
            "bp": lambda: f"{rng.randint(90, 180)}/{rng.randint(55, 110)}",
            "weight": lambda: f"{rng.uniform(3, 110):.1f}",
            "height": lambda: str(rng.randint(50, 195)),
            "bmi": lambda: f"{rng.uniform(15, 35):.1f}",
            "int": lambda: str(rng.randint(1, 999)),
            "lab_name": lambda: self.lab.name,
            "lab_en": lambda: self.lab.en or self.lab.name,
            "lab_unit": lambda: self.lab.unit,
            "lab_value": lambda: self._fmt(self.value),
            "lab_flag": self._flag,
            "lab_range": self._range,
            "lab_sd": lambda: self._fmt(abs(self.lab.high - self.lab.low) / 6 or 0.1),
        }

    @property
    def lab(self) -> LabTest:
        if self._lab is None:
            self._lab = self.rng.choice(self.t.labs)
        return self._lab

    @property
    def value(self) -> float:
        if self._value is None:
            lab = self.lab
            span = lab.high - lab.low
            self._value = self.rng.uniform(max(0.0, lab.low - 0.4 * span), lab.high + 0.6 * span)
        return self._value

    def _fmt(self, x: float) -> str:
        return f"{x:.{self.lab.decimals}f}"

    def _flag(self) -> str:
        if self.value > self.lab.high:
            return "↑"
        return "↓" if self.value < self.lab.low and self.lab.low > 0 else ""

    def _range(self) -> str:
        lab = self.lab
        if lab.low <= 0:
            return self.rng.choice(["≤", "<"]) + self._fmt(lab.high)
        return f"{self._fmt(lab.low)}-{self._fmt(lab.high)}"

    def _date(self) -> str:
        y, m, d = self.rng.randint(2018, 2026), self.rng.randint(1, 12), self.rng.randint(1, 28)
        return self.rng.choice([f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}"])

    def write(self, template: str) -> str:
        self._lab = self._value = None
        values = {}
        for _, name, _, _ in string.Formatter().parse(template):
            if name and name not in values:
                if name not in self.slots:
                    raise KeyError(f"unknown slot {{{name}}} in template {template!r}")
                values[name] = self.slots[name]()
        return " ".join(template.format(**values).split())


def _face_for(ch: str, faces: list[FontFace]) -> FontFace:
    for face in faces:
        if ch.isspace() or face.covers(ch):
            return face
    raise ValueError(f"no installed font draws {ch!r} (U+{ord(ch):04X}); add a fallback font to the recipe")


def render_line(text: str, face: FontFace, fallbacks: list[FontFace], size: int, pad: int,
                paper: int = 255, ink: int = 0) -> Image.Image:
    """Draw one line of text, switching to a fallback face for characters the face lacks."""
    faces = [face, *fallbacks]
    runs: list[tuple[str, FontFace]] = []
    for ch in text:
        chosen = _face_for(ch, faces)
        if runs and runs[-1][1] == chosen:
            runs[-1] = (runs[-1][0] + ch, chosen)
        else:
            runs.append((ch, chosen))
    fonts = {f: f.truetype(size) for _, f in runs}
    ascent = max(fonts[f].getmetrics()[0] for _, f in runs)
    descent = max(fonts[f].getmetrics()[1] for _, f in runs)
    width = int(sum(fonts[f].getlength(r) for r, f in runs)) + 2 * pad
    image = Image.new("L", (width, ascent + descent + 2 * pad), paper)
    draw = ImageDraw.Draw(image)
    x = float(pad)
    for run, f in runs:
        draw.text((x, pad + ascent), run, font=fonts[f], fill=ink, anchor="ls")
        x += fonts[f].getlength(run)
    return image


@dataclass
class SynthSummary:
    count: int
    splits: dict[str, int]
    fonts: dict[str, int]
    lexicon_terms: int
    bytes: int


def synthesize(recipe: Recipe, out_dir: str | Path, progress: bool = True) -> SynthSummary:
    """Render ``recipe.count`` line images into a dataset directory."""
    out = Path(out_dir)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    faces = [find_font(name) for name in recipe.fonts.faces]
    fallbacks = [find_font(name) for name in recipe.fonts.fallback]
    templates = [t.text for t in recipe.templates]
    weights = [t.weight for t in recipe.templates]
    degrade = scan_degradations(recipe.degrade)
    ext = "png" if recipe.image.format == "png" else "jpg"
    rows: list[LabelRow] = []
    font_use: dict[str, int] = {}
    total = 0
    for i in tqdm(range(recipe.count), desc="synth", unit="img", disable=not progress):
        rng = random.Random(f"{recipe.seed}-{i}")
        if recipe.corpus:
            # split by source sentence, so held-out lines never share a sentence with training lines
            sentence, text = corpus_line(recipe.corpus, rng)
            split_key = sha256_bytes(sentence.encode("utf-8"))
        else:
            text, split_key = LineWriter(recipe.terms, rng).write(rng.choices(templates, weights)[0]), None
        face = rng.choice(faces)
        image = render_line(
            text, face, [f for f in faces if f != face] + fallbacks,
            size=rng.randint(*recipe.image.font_size), pad=rng.randint(*recipe.image.pad),
            paper=rng.randint(215, 250), ink=rng.randint(0, 70),
        )
        degrade.set_random_seed(rng.randrange(2**31))
        array = degrade(image=np.asarray(image))["image"]
        data = _encode(Image.fromarray(array), recipe.image)
        name = f"{IMAGES_DIR}/{i:06d}.{ext}"
        (out / name).write_bytes(data)
        split = split_for_hash(split_key or sha256_bytes(data), recipe.split)
        rows.append(LabelRow(image=name, text=text, split=split))
        font_use[face.family] = font_use.get(face.family, 0) + 1
        total += len(data)
    write_labels(out, rows)
    lexicon = recipe.terms.lexicon() if recipe.terms else []
    if lexicon:
        (out / LEXICON_FILE).write_text("\n".join(lexicon) + "\n", encoding="utf-8")
    splits = {s: sum(1 for r in rows if r.split == s) for s in ("train", "val", "test")}
    return SynthSummary(count=len(rows), splits=splits, fonts=font_use, lexicon_terms=len(lexicon), bytes=total)


def _encode(image: Image.Image, spec: ImageSpec) -> bytes:
    buf = io.BytesIO()
    if spec.format == "png":
        image.save(buf, format="PNG", optimize=True)
    else:
        image.save(buf, format="JPEG", quality=spec.jpeg_quality)
    return buf.getvalue()
