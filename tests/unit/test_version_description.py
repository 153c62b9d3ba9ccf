"""The version page's Markdown: headline figures, where they were measured, versus the champion."""

from __future__ import annotations

from ocrops.evaluation.records import Figures
from ocrops.registry.description import describe
from ocrops.registry.versions import headline_tags

EVALUATION = {
    "test": {"adapted": {"cer": 0.0029, "exact_match": 0.93, "term_recall": 0.9936, "lines_per_s": 37.6,
                         "latency": {"p50_ms": 31.24, "p95_ms": 53.64}},
             "adapted_postprocessed": {"cer": 0.0028, "term_recall": 0.995},
             "base": {"cer": 0.1477}},
    "general": {"cer_change_points": -0.31},
    "guard": {"adapted": {"cer": 0.0536}, "base": {"cer": 0.0541}, "cer_change_points": -0.05, "digest": "f" * 64,
              "lines": 688},
    "test_set": {"digest": "a" * 64, "lines": 172},
}
COMMIT = "1234567890abcdef"  # pragma: allowlist secret (a made-up git commit)
LINEAGE = {"mlflow.source.git.commit": COMMIT, "data_dvc_md5": "d" * 32, "family": "ppocr"}


def version_tags(evaluation: dict = EVALUATION) -> dict[str, str]:
    return headline_tags(evaluation, "data (test split)") | LINEAGE


def test_the_headline_table_comes_first_with_base_figures_and_where_they_were_measured() -> None:
    text = describe("1", version_tags())
    lines = text.splitlines()
    assert lines[0] == "| Figure | This version | Base model |"  # the top of the version page
    assert "| Domain test CER (raw) | **0.29 %** | 14.77 % |" in lines
    assert "| Domain test CER (post-processed) | **0.28 %** |  |" in lines
    assert "| Term recall (post-processed) | **99.50 %** |  |" in lines
    assert "| Guard CER (real scans) | **5.36 %** | 5.41 % |" in lines
    assert "| Latency per line p50 / p95 | **31.2 ms / 53.6 ms** |  |" in lines
    assert "| Lines/s (batched) | **37.6** |  |" in lines
    assert ("Measured on **data (test split)**: 172 lines, digest `aaaaaaaaaaaa`; guard set: 688 real scanned "
            "lines, digest `ffffffffffff`.") in text
    assert "Data `dddddddddddd` (DVC), code `1234567890ab` (git), family `ppocr`." in text
    assert "No version holds `champion` yet." in text
    assert "*Promote model* button copies the version to another registered model" in text


def test_versus_the_champion_on_the_same_test_set() -> None:
    worse = {**EVALUATION, "test": {**EVALUATION["test"], "adapted_postprocessed": {"cer": 0.0100,
                                                                                    "term_recall": 0.98}}}
    text = describe("2", version_tags(), "1", version_tags(worse))
    assert "Versus the champion (version 1) on data (test split) (172 lines, digest `aaaaaaaaaaaa`):" in text
    assert "| CER (post-processed) | 0.28 % | 1.00 % | -0.72 points (better) |" in text
    assert "| Term recall (post-processed) | 99.50 % | 98.00 % | +1.50 points (better) |" in text
    assert "| Guard CER (real scans) | 5.36 % | 5.36 % | same |" in text
    assert "This version is the `champion`." in describe("1", version_tags(), "1", version_tags())


def test_a_champion_on_another_test_set_is_not_compared_but_the_command_is_named() -> None:
    other = {**EVALUATION, "test_set": {"digest": "b" * 64, "lines": 300}}
    text = describe("2", version_tags(), "1", version_tags(other))
    assert "Versus the champion" not in text
    assert "`ocrops evaluate 1` reads it on the current test split" in text
    # once the champion was read on this version's test set, the two are compared there
    reread = Figures(name="data (test split)", digest="a" * 64, lines=172, cer=0.01, cer_postprocessed=0.012,
                     term_recall_postprocessed=0.97, evaluated="2026-11-30 10:00 UTC")
    text = describe("2", version_tags(), "1", version_tags(other) | dict([reread.tag()]))
    assert "| CER (post-processed) | 0.28 % | 1.20 % | -0.92 points (better) |" in text


def test_readings_on_other_test_sets_are_listed() -> None:
    reread = Figures(name="lab-sheets (test split)", digest="c" * 64, lines=40, cer=0.05, cer_postprocessed=0.04,
                     term_recall_postprocessed=None, evaluated="2026-11-30 10:00 UTC")
    text = describe("1", version_tags() | dict([reread.tag()]))
    assert "| lab-sheets (test split) | 40 | `cccccccccccc` | 5.00 % | 4.00 % | – | 2026-11-30 10:00 UTC |" in text


def test_the_reviewed_lines_are_compared_with_the_champion_read_on_them() -> None:
    """After a round of review, the held-out reviewed lines: this version's CER there against the champion's,
    once `ocrops evaluate CHAMPION` read it on the new test split."""
    reviewed = {**EVALUATION, "reviewed": {"lines": 9, "base": {"cer": 0.08}, "adapted": {"cer": 0.004}}}
    tags = version_tags(reviewed)
    assert tags["reviewed_lines"] == "9" and tags["reviewed_cer"] == "0.004" and tags["base_reviewed_cer"] == "0.08"
    other = {**EVALUATION, "test_set": {"digest": "b" * 64, "lines": 163}}
    reread = Figures(name="data (test split)", digest="a" * 64, lines=172, cer=0.009, cer_postprocessed=0.009,
                     term_recall_postprocessed=0.99, reviewed_lines=9, reviewed_cer=0.052)
    text = describe("2", tags, "1", version_tags(other) | dict([reread.tag()]))
    assert "| CER, the 9 reviewed lines | 0.40 % | 5.20 % | -4.80 points (better) |" in text
    assert "reviewed" not in describe("2", version_tags(), "1", version_tags(other) | dict([reread.tag()]))
