"""PP-OCRv4 stays a base a team can pick: `train.base: ppocr-v4` runs validate -> train -> evaluate -> register
-> export with the real `dvc repro`, and what it writes is a v4 model, read with v4's detector, exported with parity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PROJECT, write_pages
from integration.test_dvc_validate import _dvc, copy_stages, init_repo
from ocrops.config import SplitRatios
from ocrops.data.synth import load_recipe, synthesize

pytestmark = pytest.mark.integration

STAGES = ["validate", "general", "train", "evaluate", "register", "export"]


def test_ppocr_v4_still_trains_evaluates_and_exports(tmp_path: Path, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    copy_stages(root, STAGES, {"train": {"base": "ppocr-v4", "epochs": 1, "batch_size": 8, "general_ratio": 0.2},
                               "evaluate": {"latency_lines": 4}})
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(
        update={"count": 30, "split": SplitRatios(train=0.6, val=0.2, test=0.2)})
    synthesize(recipe, root / "data", progress=False)
    write_pages(root / "pages", ["train", "val", "test"])
    init_repo(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlruns/mlflow.db")
    done = _dvc("repro", "export", cwd=root)
    for stage in STAGES:
        assert f"Running stage '{stage}'" in done.stdout
    config = json.loads((root / "outputs" / "train" / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["preset"] == "ppocr-v4" and config["architecture"] == "pplcnetv3-svtr"
    assert config["num_classes"] >= 6625  # v4's head (grown by the domain's new characters), not v6's 18,710
    export = json.loads((root / "reports" / "export.json").read_text(encoding="utf-8"))
    assert export["parity"]["ort_fp32"]["identical_share"] == 1.0
    evaluation = json.loads((root / "reports" / "evaluate.json").read_text(encoding="utf-8"))
    assert evaluation["pages"]["adapted"]["f1"] > 0.5  # read with v4's own detector
