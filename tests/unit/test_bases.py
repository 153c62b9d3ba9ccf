"""The rule that picks the default base: the lowest adapted domain CER among the bases fast enough."""

from __future__ import annotations

from ocrops.experiments.bases import bases, choose, markdown


def _base(test: float, guard: float, speed: float) -> dict:
    return {"zero_shot": {"test_cer": 0.1, "guard_cer": 0.05}, "adapted": {"test_cer": test, "guard_cer": guard},
            "speed": {"lines_per_s": 100 * speed, "lines_vs_reference": speed, "pages_per_s": 1.0,
                      "gflop_per_line": 0.5, "engine_share_of_roof": 0.1},
            "pages": {"f1": 0.99, "page_cer": 0.02, "labelled_line_cer": 0.018},
            "training": {"train_minutes": 8.0, "epochs_run": 3, "peak_rss_gb": 8.0}}


def test_the_most_accurate_base_wins_unless_too_slow():
    report = {"bases": {"ppocr-v4": _base(0.003, 0.05, 1.0), "ppocr-v5": _base(0.002, 0.05, 0.95),
                        "ppocr-v6": _base(0.001, 0.02, 0.85)}}
    assert choose(report, 0.1) == "ppocr-v6"
    report["bases"]["ppocr-v6"]["speed"]["lines_vs_reference"] = 0.79  # below 0.8x the reference's lines/s
    assert choose(report, 0.1) == "ppocr-v5"
    report["bases"]["ppocr-v5"]["adapted"]["test_cer"] = 0.003  # a tie on test CER: the lower guard CER
    report["bases"]["ppocr-v5"]["adapted"]["guard_cer"] = 0.04
    assert choose(report, 0.1) == "ppocr-v5"
    report["bases"]["ppocr-v5"]["adapted"]["guard_cer"] = 0.052  # forgot: 0.2 points over its zero-shot 5 %
    assert choose(report, 0.1) == "ppocr-v4"
    assert choose({"bases": {}}, 0.1) is None


def test_the_table_marks_the_choice_and_every_base_it_measured():
    report = {"bases": {"ppocr-v4": _base(0.003, 0.05, 1.0), "ppocr-v6": _base(0.001, 0.02, 0.9)},
              "chosen": "ppocr-v6", "rule": "r", "speed_run": {"gemm_roof": {"gflops": 300, "threads": 2, "n": 2048}}}
    table = markdown(report)
    assert "| ppocr-v6 **chosen** | 10.00 % → 0.10 %" in table and "| ppocr-v4 |" in table
    assert "300 GFLOP/s" in table
    assert set(bases()) == {"ppocr-v4", "ppocr-v5", "ppocr-v6"}
