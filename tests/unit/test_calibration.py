"""Line confidence calibration: the error measure, the fitted maps, the review threshold, and the map travelling
with the post-processing chain into every answered line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ocrops.config import PostprocessParams
from ocrops.evaluation.calibration import (
    assess,
    calibrate,
    cross_validated_ece,
    ece,
    fit_method,
    plot_rows,
    reliability,
    review_threshold,
)
from ocrops.inference.pages import Found, PageReader, Region
from ocrops.inference.types import Prediction
from ocrops.postprocess import Calibration, Postprocessor


def overconfident(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Lines whose raw confidence says more than it should: the true chance of being exact is conf ** 4."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.6, 1.0, n)
    return conf, rng.uniform(size=n) < conf ** 4


def test_ece_by_hand():
    # two bins: 0.9 said, 1 of 2 exact (gap 0.4); 0.3 said, 0 of 2 exact (gap 0.3): (2 * 0.4 + 2 * 0.3) / 4
    assert ece([0.9, 0.9, 0.3, 0.3], [True, False, False, False], bins=10) == pytest.approx(0.35)
    assert ece([1.0, 1.0], [True, True]) == 0.0
    rows = reliability([0.9, 0.9, 0.3, 0.3], [True, False, False, False], bins=10)
    assert [(r["lines"], r["accuracy"]) for r in rows] == [(2, 0.0), (2, 0.5)]


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_fitted_map_cuts_the_error_on_lines_it_did_not_see(method):
    conf, exact = overconfident(seed=1)
    fresh_conf, fresh_exact = overconfident(seed=2)
    fitted = fit_method(method, conf, exact.astype(float))
    before = ece(fresh_conf, fresh_exact)
    after = ece([fitted(c) for c in fresh_conf], fresh_exact)
    assert before > 0.15 and after < 0.03, (before, after)
    assert cross_validated_ece(method, conf, exact.astype(float), 15) < 0.04
    # monotone: a more confident reading never gets a lower calibrated confidence
    grid = [fitted(c) for c in np.linspace(0, 1, 101)]
    assert all(b >= a - 1e-12 for a, b in zip(grid, grid[1:], strict=False))


def test_threshold_meets_the_target_on_lines_it_did_not_see():
    conf, exact = overconfident(seed=3)
    fitted, figures = calibrate(conf, exact, target=0.8)
    assert figures["method"] in ("isotonic", "platt") and set(figures["cross_validated_ece"]) == {"isotonic", "platt"}
    fresh_conf, fresh_exact = overconfident(seed=4)
    seen = assess(fitted, fresh_conf, fresh_exact)
    assert seen["exact_above"] >= 0.78  # the target, give or take the sample
    assert 0.2 < seen["share_below"] < 0.9 and seen["wrong_below"] > seen["wrong"] / 2
    assert seen["calibrated_ece"] < seen["raw_ece"] / 3
    # the threshold is the lowest confidence whose lines above are expected exact >= target
    mapped = np.sort([fitted(c) for c in conf])
    tau = fitted.threshold
    assert mapped[mapped >= tau].mean() >= 0.8 > mapped[mapped >= np.max(mapped[mapped < tau])].mean()


def test_threshold_edges():
    assert review_threshold([0.2, 0.3], 0.99) == 1.0  # never reached: every line to review
    assert review_threshold([0.995, 0.999], 0.99) == 0.995  # every line above: none to review
    fitted, figures = calibrate([0.99] * 5, [True] * 5, method="none")
    assert fitted.method == "identity" and fitted(0.42) == 0.42 and figures["share_below"] == 0.0


def test_map_round_trips_with_the_chain(tmp_path):
    fitted, _ = calibrate(*overconfident(seed=5))
    chain = Postprocessor(PostprocessParams(), ["Troponin"], fitted)
    back = Postprocessor.load(chain.save(tmp_path))
    assert back.calibration == fitted
    assert [back.confidence(c) for c in (0.7, 0.95)] == [chain.confidence(c) for c in (0.7, 0.95)]
    assert json.loads((tmp_path / "postprocess.json").read_text())["calibration"]["method"] == fitted.method
    legacy = Postprocessor(PostprocessParams(), [])  # a version registered before calibration
    assert Postprocessor.load(legacy.save(tmp_path / "old")).confidence(0.7) == (0.7, None)
    with pytest.raises(Exception, match="unknown confidence calibration"):
        Calibration.from_dict({"method": "magic", "threshold": 0.5})


def test_answered_lines_are_calibrated_and_flagged():
    calibration = Calibration("platt", 0.8, a=4.0, b=-10.0)  # raw 0.9 -> ~0.23, raw 0.999 -> ~1.0
    chain = Postprocessor(PostprocessParams(lexicon_correction=False), [], calibration)
    box = [[0, 0], [10, 0], [10, 5], [0, 5]]
    found = Found("page", [Region(box, None), Region(box, None)], (10, 10))
    result = PageReader().assemble(found, [Prediction("sure", 0.999), Prediction("doubt", 0.9)], chain)
    sure, doubt = result["lines"]
    assert sure["needs_review"] is False and sure["confidence"] == pytest.approx(calibration(0.999), abs=1e-5)
    assert doubt["needs_review"] is True and doubt["confidence"] == pytest.approx(calibration(0.9), abs=1e-5)
    assert doubt["confidence"] < 0.5
    raw = PageReader().assemble(found, [Prediction("doubt", 0.9)] * 2, None)  # no chain: raw, no flag
    assert raw["lines"][0]["confidence"] == 0.9 and "needs_review" not in raw["lines"][0]


def test_plot_files_hold_each_curve():
    conf, exact = overconfident(300, seed=6)
    fitted, _ = calibrate(conf, exact)
    files = plot_rows({"test": assess(fitted, conf, exact)})
    assert set(files) == {"perfect", "test_raw", "test_calibrated"}
    assert sum(r["lines"] for r in files["test_raw"]) == 300
