"""validate -> general -> train -> evaluate with the real `dvc repro` on a small dataset, tracked in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import PROJECT
from integration.test_dvc_validate import _dvc, copy_stages, init_repo
from ocrops.config import SplitRatios
from ocrops.data.synth import load_recipe, synthesize

pytestmark = pytest.mark.integration

TINY = {"epochs": 1, "batch_size": 8, "augment": 0.3, "general_ratio": 0.2}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train") / "repo"
    root.mkdir()
    copy_stages(root, ["validate", "general", "train", "evaluate"], {"train": TINY})
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(
        update={"count": 40, "split": SplitRatios(train=0.6, val=0.2, test=0.2)})
    synthesize(recipe, root / "data", progress=False)
    init_repo(root)
    return root


def test_pipeline_trains_evaluates_and_tracks(repo: Path):
    first = _dvc("repro", cwd=repo)
    for stage in ("validate", "general", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout

    train = json.loads((repo / "reports" / "train.json").read_text(encoding="utf-8"))
    assert train["epochs_run"] == 1 and 0 <= train["val_cer"] < 1 and train["train_lines_per_s"] > 0
    assert (repo / "outputs" / "train" / "model" / "model.safetensors").exists()
    assert (repo / "reports" / "augment_preview.png").stat().st_size > 1000
    history = json.loads((repo / "reports" / "plots" / "train_history.json").read_text())
    assert [h["epoch"] for h in history] == [1]

    evaluation = json.loads((repo / "reports" / "evaluate.json").read_text(encoding="utf-8"))
    for part in ("test", "general"):
        for model in ("base", "adapted"):
            assert 0 <= evaluation[part][model]["cer"] <= 1

    client = MlflowClient(tracking_uri=f"sqlite:///{repo}/mlruns/mlflow.db")
    run = client.get_run(train["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["train.epochs"] == "1"
    assert "mlflow.source.git.commit" in run.data.tags
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_cer")] == [1]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model", "train"} <= artifacts
    assert run.inputs.dataset_inputs

    again = _dvc("repro", cwd=repo)
    assert "Running stage" not in again.stdout and "up to date" in again.stdout
