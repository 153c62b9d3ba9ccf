"""The evaluate stage's reviewed slice: test lines that came back from review, read by both models."""

from ocrops.data.lines import Line, LineDataset
from ocrops.evaluation.measure import reviewed_slice
from ocrops.inference.types import Prediction


def test_only_reviewed_test_lines_count():
    test = LineDataset([Line("a.png", "Troponin", "review"), Line("b.png", "Lipase", ""),
                        Line("c.png", "Ferritin", "review")], "test")
    readings = {"base": [Prediction("Tropomin", 0.9), Prediction("Lipose", 0.9), Prediction("Ferritin", 0.9)],
                "adapted": [Prediction("Troponin", 0.9), Prediction("Lipose", 0.9), Prediction("Ferritin", 0.9)]}
    figures = reviewed_slice(test, readings)
    assert figures["lines"] == 2
    assert figures["base"]["cer"] == 1 / 16 and figures["base"]["exact_match"] == 0.5
    assert figures["adapted"] == {"cer": 0.0, "exact_match": 1.0}  # Lipase's error is not in the slice
    assert "skipped" in reviewed_slice(LineDataset([Line("b.png", "Lipase")], "test"), {"base": [], "adapted": []})
