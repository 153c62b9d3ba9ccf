"""Page post-processing calibration: every combination scored, the best by F1 then page CER; a combination
that merges lines is never chosen."""

from __future__ import annotations

import json

from conftest import write_pages
from ocrops.data.images import load_rgb
from ocrops.evaluation.page_calibration import calibrate
from ocrops.evaluation.pages import LabelledPage
from ocrops.models import pretrained


def _pages(root) -> list[LabelledPage]:
    """One rendered validation page, as labelled."""
    write_pages(root, ["val"])
    return labelled_pages_of(root)


def labelled_pages_of(root) -> list[LabelledPage]:
    rows = [json.loads(line) for line in (root / "pages.jsonl").read_text(encoding="utf-8").splitlines()]
    return [LabelledPage(r["image"], load_rgb(root / r["image"]), r.get("capture", ""),
                         [(line["text"], line["points"]) for line in r["lines"]], r.get("ignore", [])) for r in rows]


def test_calibration_scores_every_combination_and_never_picks_merged_lines(tmp_path):
    pages = _pages(tmp_path / "pages")
    model = pretrained("ppocr-v4")
    grid = {"unclip_ratio": (1.2, 4.0), "merge_gap": (2.3,), "crop_margin": (0.1, 0.3)}
    report = calibrate(pages, None, lambda crops: model.predict(crops), grid)
    assert len(report["results"]) == 4 and report["pages"] == 1
    by = {(r["unclip_ratio"], r["crop_margin"]): r for r in report["results"]}
    assert by[(4.0, 0.1)]["f1"] < by[(1.2, 0.1)]["f1"]  # grown boxes spill over their labels and neighbours
    assert report["best"]["unclip_ratio"] == 1.2
    assert report["best"]["f1"] >= max(r["f1"] for r in report["results"]) - 1e-4
