"""Input drift: what the lines the model reads look like (size, aspect, brightness, contrast, sharpness, text
length, character classes, confidence), profiled on the test split by the evaluate stage, and compared with
traffic by ``ocrops monitor``: a two-sample Kolmogorov-Smirnov test per feature, a verdict when both the test
(Bonferroni over the features) and the size of the shift (the KS statistic) say so."""

from __future__ import annotations

import base64
import html
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# a feature needs the pixels (image) or the reading (text, confidence); a folder of images has only the first
IMAGE_FEATURES = ("width", "height", "aspect", "brightness", "contrast", "sharpness")
READING_FEATURES = ("characters", "share_cjk", "share_digits", "share_latin", "confidence")
FEATURES = IMAGE_FEATURES + READING_FEATURES
ALPHA = 0.01  # family-wise: split over the features compared (Bonferroni)
MIN_SHIFT = 0.15  # the KS statistic below which a significant difference is too small to act on


def image_features(image: Image.Image) -> dict[str, float]:
    """One line image's size and look: brightness and contrast of its grey levels, sharpness as the variance of
    its Laplacian (a blurred or downscaled-then-upscaled line loses it)."""
    import cv2

    grey = np.asarray(image.convert("L"), dtype=np.float32)
    w, h = image.size
    return {"width": float(w), "height": float(h), "aspect": w / max(h, 1), "brightness": float(grey.mean()),
            "contrast": float(grey.std()), "sharpness": float(cv2.Laplacian(grey, cv2.CV_32F).var())}


def reading_features(text: str, confidence: float) -> dict[str, float]:
    n = len(text)

    def share(test) -> float:
        return sum(1 for ch in text if test(ch)) / n if n else 0.0

    return {"characters": float(n), "confidence": float(confidence),
            "share_cjk": share(lambda ch: unicodedata.name(ch, "").startswith("CJK")),
            "share_digits": share(str.isdigit), "share_latin": share(lambda ch: ch.isascii() and ch.isalpha())}


def profile(rows: Iterable[dict[str, float]]) -> dict[str, list[float]]:
    """Per feature, every line's value (a few hundred lines: the values themselves are the reference)."""
    out: dict[str, list[float]] = {}
    for row in rows:
        for name, value in row.items():
            out.setdefault(name, []).append(round(float(value), 5))
    return out


@dataclass(frozen=True)
class Verdict:
    feature: str
    reference_lines: int
    current_lines: int
    reference_median: float
    current_median: float
    statistic: float  # KS: the largest gap between the two cumulative distributions, 0-1
    p_value: float
    drift: bool


def compare(reference: dict[str, Sequence[float]], current: dict[str, Sequence[float]],
            alpha: float = ALPHA, min_shift: float = MIN_SHIFT) -> list[Verdict]:
    """A verdict per feature both profiles hold."""
    from scipy.stats import ks_2samp

    shared = [f for f in FEATURES if reference.get(f) and current.get(f)]
    verdicts = []
    for feature in shared:
        ref, cur = np.asarray(reference[feature], float), np.asarray(current[feature], float)
        test = ks_2samp(ref, cur)
        verdicts.append(Verdict(feature, len(ref), len(cur), float(np.median(ref)), float(np.median(cur)),
                                float(test.statistic), float(test.pvalue),
                                bool(test.pvalue < alpha / len(shared) and test.statistic >= min_shift)))
    return verdicts


def _histogram(reference: Sequence[float], current: Sequence[float], feature: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 1.9))
    both = np.concatenate([np.asarray(reference, float), np.asarray(current, float)])
    bins = np.histogram_bin_edges(both, bins=20)
    ax.hist(reference, bins=bins, alpha=0.55, density=True, label="reference", color="#1f77b4")
    ax.hist(current, bins=bins, alpha=0.55, density=True, label="current", color="#d62728")
    ax.set_title(feature, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def report_html(verdicts: list[Verdict], reference: dict, current: dict, title: str) -> str:
    """A page a person reads: the verdict, a row per feature, the two distributions drawn (self-contained: no
    script, no third-party resource)."""
    drifted = [v.feature for v in verdicts if v.drift]
    head = (f"<p class=bad>Drift in {len(drifted)} of {len(verdicts)} features: {', '.join(drifted)}</p>" if drifted
            else f"<p class=ok>No drift in the {len(verdicts)} features compared.</p>")
    rows = "".join(
        f"<tr class={'bad' if v.drift else 'ok'}><td>{v.feature}</td><td>{v.reference_median:.4g}</td>"
        f"<td>{v.current_median:.4g}</td><td>{v.statistic:.3f}</td><td>{v.p_value:.2g}</td>"
        f"<td>{'drift' if v.drift else 'ok'}</td><td><img alt='{v.feature}' "
        f"src='{_histogram(reference[v.feature], current[v.feature], v.feature)}'></td></tr>" for v in verdicts)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:2em}td,th{padding:4px 8px;border-bottom:1px solid #ddd}"
            ".bad{color:#b00}.ok{color:#070}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{head}<p>Two-sample Kolmogorov-Smirnov test per feature; drift where "
            f"p &lt; {ALPHA:g} / features and the statistic is at least {MIN_SHIFT:g}.</p>"
            "<table><tr><th>feature</th><th>reference median</th><th>current median</th><th>KS</th><th>p</th>"
            f"<th>verdict</th><th>distributions</th></tr>{rows}</table></body></html>\n")


def current_profile(source: str) -> tuple[dict[str, list[float]], str]:
    """The profile of what ``source`` holds, and what it is: a batch job's Parquet (readings: a row per line of
    each answer), a capture store (crops and readings: lines the service doubted, not all traffic), or a folder
    of line images (pixels only)."""
    import json
    from pathlib import Path

    from ocrops.data.captures import CaptureStore
    from ocrops.data.images import IMAGE_SUFFIXES, load_rgb

    if source.endswith(".parquet") or Path(source, "_SUCCESS").exists():
        import pandas as pd

        frame = pd.read_parquet(source, columns=["lines"])
        rows = [reading_features(line["text"], line["confidence"]) for cell in frame["lines"]
                for line in (json.loads(cell) if isinstance(cell, str) else cell or [])]
        return profile(rows), "batch job answers (readings)"
    store = CaptureStore(source)
    if store.ids():
        rows = []
        for captured in store:
            with Image.open(io.BytesIO(captured.image)) as crop:
                rows.append(image_features(crop) | reading_features(captured.record.get("raw_text", ""),
                                                                    captured.record.get("confidence", 0.0)))
        return profile(rows), "captured lines (those the service doubted)"
    files = sorted(p for p in Path(source).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return profile(image_features(load_rgb(p)) for p in files), "line images (pixels)"
