"""Parity figures and the failure that names the worst lines."""

from __future__ import annotations

import pytest

from ocrops.errors import PipelineError
from ocrops.evaluation.parity import check, compare
from ocrops.inference.types import Prediction


def preds(*texts: str) -> list[Prediction]:
    return [Prediction(t, 0.9) for t in texts]


def test_compare_counts_identical_lines_and_cer_difference():
    parity = compare("e", preds("abc", "xyz", "123"), preds("abc", "xyq", "12"), ["abc", "xyz", "123"],
                     ["a.png", "b.png", "c.png"])
    assert parity.identical == 1 and parity.identical_share == pytest.approx(1 / 3)
    assert parity.cer_reference == 0 and parity.cer_diff_points == pytest.approx(100 * 2 / 9)
    assert [w["image"] for w in parity.worst] == ["b.png", "c.png"]  # ties keep input order


def test_check_passes_within_bounds_and_names_the_worst_lines_otherwise():
    same = compare("e", preds("a", "b"), preds("a", "b"), ["a", "b"], ["1", "2"])
    check(same, 0.995, 0.1)
    bad = compare("ort_fp32", preds("阿莫西林", "b"), preds("阿莫西", "b"), ["阿莫西林", "b"], ["x.png", "y.png"])
    with pytest.raises(PipelineError, match=r"ort_fp32 parity failed: 50.00% of 2 lines identical") as err:
        check(bad, 0.995, 0.1)
    assert "x.png: model '阿莫西林' vs engine '阿莫西'" in str(err.value)
