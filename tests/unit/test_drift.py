"""The drift monitor: a fresh sample of the reference distribution is not flagged, the same lines blurred or
darkened are, through `ocrops monitor` on folders of line images and on a capture store."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from conftest import line_image
from ocrops.data.captures import CaptureStore
from ocrops.evaluation.drift import compare, image_features, profile, reading_features

WORDS = ["Hemoglobin", "135", "g/L", "Creatinine", "88", "umol/L", "WBC", "6.2", "x10^9/L", "ALT", "42", "U/L",
         "Glucose", "5.4", "mmol/L", "Sodium", "140", "Potassium", "4.1"]


def lines(n: int, seed: int) -> list[tuple[Image.Image, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
        width = 14 * len(text) + rng.randint(10, 40)
        out.append((line_image(text, size=(width, rng.choice((36, 40, 44))), paper=rng.randint(228, 250)), text))
    return out


def write_folder(folder: Path, images: list[Image.Image]) -> Path:
    folder.mkdir(parents=True)
    for k, image in enumerate(images):
        image.save(folder / f"{k:04d}.png")
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    rows = [image_features(im) | reading_features(text, 0.99) for im, text in lines(200, seed=1)]
    path = tmp_path_factory.mktemp("ref") / "drift_reference.json"
    path.write_text(json.dumps({"lines": 200, "features": profile(rows)}))
    return path


def monitor(source: Path | str, reference: Path, out: Path) -> tuple[int, dict]:
    done = subprocess.run([str(Path(sys.executable).parent / "ocrops"), "monitor", str(source), "--reference",
                           str(reference), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(out.with_suffix(".json").read_text())


def test_a_fresh_sample_is_not_flagged_a_blurred_or_dark_one_is(reference, tmp_path):
    fresh = [im for im, _ in lines(150, seed=2)]
    code, figures = monitor(write_folder(tmp_path / "fresh", fresh), reference, tmp_path / "fresh.html")
    assert code == 0 and figures["drift"] == [], figures
    assert set(figures["features"]) == {"width", "height", "aspect", "brightness", "contrast", "sharpness"}

    blurred = [im.filter(ImageFilter.GaussianBlur(1.2)) for im in fresh]
    code, figures = monitor(write_folder(tmp_path / "blurred", blurred), reference, tmp_path / "blurred.html")
    assert code == 1 and "sharpness" in figures["drift"] and "width" not in figures["drift"], figures

    dark = [ImageEnhance.Brightness(im).enhance(0.6) for im in fresh]  # a dim phone photo
    code, figures = monitor(write_folder(tmp_path / "dark", dark), reference, tmp_path / "dark.html")
    assert code == 1 and "brightness" in figures["drift"], figures
    page = (tmp_path / "dark.html").read_text()
    assert "Drift in" in page and "brightness" in page and "<script" not in page and "http" not in page


def test_captured_readings_are_compared_too(reference, tmp_path):
    store = CaptureStore(str(tmp_path / "captures"))
    for k, (image, text) in enumerate(lines(120, seed=3)):
        store.write(image, {"request_id": f"r{k}", "line": 1, "raw_text": text, "confidence": 0.6}, now=1.8e9 + k)
    code, figures = monitor(tmp_path / "captures", reference, tmp_path / "captures.html")
    assert figures["kind"].startswith("captured lines")
    assert code == 1 and figures["drift"] == ["confidence"], figures  # the look and the words as in the reference


def test_bonferroni_and_effect_size_keep_noise_quiet():
    ref = {"brightness": [float(x) for x in range(200)]}
    shifted = {"brightness": [float(x) + 3 for x in range(200)]}  # a shift of 1.5 % of the range: not worth acting
    [verdict] = compare(ref, shifted)
    assert not verdict.drift and verdict.statistic < 0.15
