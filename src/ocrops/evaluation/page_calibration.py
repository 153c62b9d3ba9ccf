"""Calibrating the page reader's post-processing on labelled (validation) pages: how far DBNet's regions grow
(``unclip_ratio``), which segments join into one line (``merge_gap``) and how much paper a crop keeps
(``crop_margin``), each combination scored by detection F1 and page CER. The network runs once per page."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ocrops.evaluation.metrics.pages import page_scores
from ocrops.evaluation.pages import LabelledPage, Recognize, labelled_line_cer
from ocrops.inference.detection import DetectorSettings, TextDetector
from ocrops.inference.pages import PageReader

GRID = {"unclip_ratio": (1.2, 1.4, 1.6), "merge_gap": (1.8, 2.3, 2.8), "crop_margin": (0.1, 0.2, 0.3)}


class _Found:
    """A detector that answers with quads found beforehand (one combination's), by page."""

    def __init__(self, quads: dict[int, list[np.ndarray]]) -> None:
        self.quads = quads

    def detect(self, image: Image.Image) -> list[np.ndarray]:
        return self.quads[id(image)]


def calibrate(pages: Sequence[LabelledPage], detector_model: Path | None, recognize: Recognize,
              grid: dict[str, Sequence[float]] = GRID) -> dict:
    """Every combination of ``grid`` on ``pages``: {"results": [...], "best": the one with the highest F1, then
    the lowest page CER}."""
    detector = TextDetector(DetectorSettings(), model=detector_model)
    maps = [detector.probability(page.image) for page in pages]
    line_cer = {m: labelled_line_cer(pages, recognize, m) for m in grid["crop_margin"]}
    results = []
    for unclip, gap in itertools.product(grid["unclip_ratio"], grid["merge_gap"]):
        detector.settings = dataclasses.replace(DetectorSettings(), unclip_ratio=unclip, merge_gap=gap)
        quads = {id(p.image): detector.detect(p.image, found) for p, found in zip(pages, maps, strict=True)}
        for margin in grid["crop_margin"]:
            reader = PageReader(_Found(quads), margin=margin)
            found = [[(line["raw_text"], line["box"]) for line in reader.read([p.image], recognize, mode="page")[0]
                      ["lines"]] for p in pages]
            scores, _ = page_scores([p.truth for p in pages], found, [p.ignore for p in pages])
            results.append({"unclip_ratio": unclip, "merge_gap": gap, "crop_margin": margin, "f1": scores.f1,
                            "page_cer": scores.page_cer, "labelled_line_cer": line_cer[margin]})
    best = max(results, key=lambda r: (round(r["f1"], 4), -r["page_cer"]))
    return {"pages": len(pages), "results": results, "best": best}
