"""A model family added from outside ocrops: one folder (tests/plugins/toyfam) and one registration (its
``ocrops.families`` entry point), installed like any package. The real pipeline then validates, trains (one
step), evaluates, registers, skips the export with the family's reason, benchmarks and serves it through
``bentoml serve`` with the same code every family goes through; nothing in ocrops names it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import PROJECT, write_dataset, write_pages
from integration.test_dvc_validate import _dvc, copy_stages, init_repo

pytestmark = pytest.mark.integration

PLUGIN = PROJECT / "tests" / "plugins" / "toyfam"
STAGES = ["validate", "general", "train", "evaluate", "register", "export", "benchmark", "package"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plug-in installed as a package would be (pip, entry point metadata included), outside the venv."""
    target, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("src") / "toyfam"
    shutil.copytree(PLUGIN, source)  # the build writes next to its sources: never into the checkout
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)
    assert (target / "toyfam" / "model.py").exists() and list(target.glob("toyfam-*.dist-info"))
    return target


def _families(env: dict[str, str]) -> list[str]:
    code = "from ocrops.families import families; print(' '.join(families()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_registry_finds_the_plugin_only_where_it_is_installed(site: Path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    import os

    assert "toy" not in _families(dict(os.environ))
    assert "toy" in _families(dict(os.environ, PYTHONPATH=str(site)))


def test_a_plugin_family_runs_the_whole_pipeline_and_is_served(site: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(site))  # what `pip install toyfam` would give every stage and server
    root = tmp_path / "repo"
    root.mkdir()
    # the toy learns one text in one Adam step: no general lines in the mix (with the default base's recipe, real
    # ones would tie with the label's characters in that step) and no slower body
    copy_stages(root, STAGES, {"train": {"base": "toy-v0", "epochs": 1, "batch_size": 64, "augment": 0.0,
                                         "general_ratio": 0.0, "backbone_lr_scale": 1.0},
                               "evaluate": {"latency_lines": 4},
                               "benchmark": {"batch_sizes": [1, 4], "warmup": 0, "lines_per_point": 4, "rounds": 1,
                                             "concurrency": [1], "requests_per_client": 2}})
    splits = ["train"] * 10 + ["val"] * 3 + ["test"] * 3
    write_dataset(root / "data", [(f"{i:03d}.png", "WBC 6.5", s) for i, s in enumerate(splits)])
    (root / "data" / "lexicon.txt").write_text("WBC\n", encoding="utf-8")
    write_pages(root / "pages", ["train", "val", "test"])
    init_repo(root)
    store = f"sqlite:///{root}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)

    run = _dvc("repro", cwd=root)
    for stage in STAGES:
        assert f"Running stage '{stage}'" in run.stdout
    reports = root / "reports"
    validation = json.loads((reports / "validation.json").read_text())
    assert validation["passed"] and validation["oov"]["family"] == "toy"
    train = json.loads((reports / "train.json").read_text())
    assert train["epochs_run"] == 1 and train["added_characters"]  # its vocabulary grew from the labels
    assert json.loads((root / "outputs" / "train" / "model" / "vocabulary.json").read_text())
    evaluation = json.loads((reports / "evaluate.json").read_text())
    # one step moved the learnt text towards the labels: the adapted model reads them better than the empty base
    assert evaluation["test"]["adapted"]["cer"] < evaluation["test"]["base"]["cer"] == 1.0
    exported = json.loads((reports / "export.json").read_text())
    assert exported["status"] == "skipped" and "the toy family has no ONNX export" in exported["reason"]
    bench = json.loads((reports / "benchmark.json").read_text())
    assert set(bench["engines"]) == {"torch"} and bench["engines"]["torch"]["batch"]["4"]["lines_per_s"] > 0
    version = MlflowClient(tracking_uri=store).get_model_version_by_alias("ocrops", "candidate")
    assert version.tags["family"] == "toy"
    package = json.loads((reports / "package.json").read_text())
    check = package["serve_check"]
    assert check["lines"] == 3 and check["same_test_set"] and check["matches"]  # served as registered
    assert check["served_cer"] == pytest.approx(evaluation["test"]["adapted"]["cer"])
