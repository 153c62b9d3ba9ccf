"""Several domains in one project with the real `dvc repro -R pipelines/`: two domains made by `ocrops domain
new` from two recipes with different terms (hospital reports, herbal prescriptions) train, evaluate, register
and export side by side, each as its own MLflow experiment and registered model; a change to one domain's data
leaves the other's stages current.

The tests of this module share one project and run in order (pytest -n uses --dist loadfile)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from conftest import PROJECT, line_image, write_pages
from integration.test_dvc_validate import _dvc, _run, copy_stages, init_repo
from ocrops.config import SplitRatios
from ocrops.data.lines import LineDataset
from ocrops.data.synth import load_recipe, synthesize
from ocrops.domains.scaffold import DOMAIN_STAGES
from ocrops.evaluation.metrics import cer
from ocrops.registry.pyfunc import image_b64

pytestmark = pytest.mark.integration

RECIPES = {"a": PROJECT / "recipes" / "hospital.yaml", "b": PROJECT / "tests" / "data" / "tcm_prescriptions.yaml"}
TINY = {"epochs": 1, "batch_size": 8, "augment": 0.3, "general_ratio": 0.2}


def _ocrops(*args: str, cwd: Path) -> str:
    return _run([str(Path(sys.executable).parent / "ocrops"), *args], cwd).stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("domains")
    root = work / "repo"
    root.mkdir()
    copy_stages(root, list(DOMAIN_STAGES), {
        "train": TINY, "evaluate": {"latency_lines": 8},
        "promote": {"max_latency_ms": 1e6, "max_guard_cer_rise": 100.0, "max_guard_cer_rise_champion": 100.0}})
    write_pages(root / "pages", ["train", "val", "test"])
    init_repo(root)
    for name, path in RECIPES.items():
        recipe = load_recipe(path).model_copy(update={"count": 30, "split": SplitRatios(train=0.6, val=0.2,
                                                                                         test=0.2)})
        synthesize(recipe, work / name, progress=False)
        _ocrops("domain", "new", name, "--from", str(work / name), cwd=root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "two domains"], root)
    return root


def _store(root: Path) -> str:
    return f"sqlite:///{root}/mlruns/mlflow.db"


def _test_split(folder: Path) -> LineDataset:
    rows = LineDataset.from_accepted(folder / "outputs" / "validate" / "accepted.jsonl", "test")
    return LineDataset([type(line)(str(folder / line.path), line.text) for line in rows])


def test_one_repro_trains_and_registers_every_domain(project: Path):
    ran = _dvc("repro", "-R", "pipelines/", cwd=project).stdout
    for name in RECIPES:
        for stage in DOMAIN_STAGES:
            assert f"Running stage 'pipelines/{name}/dvc.yaml:{stage}'" in ran
    client = MlflowClient(tracking_uri=_store(project))
    digests = set()
    for name in RECIPES:
        folder = project / "pipelines" / name
        evaluation = json.loads((folder / "reports" / "evaluate.json").read_text(encoding="utf-8"))
        version = client.get_model_version_by_alias(f"ocrops-{name}", "candidate")
        assert str(version.version) == "1"
        run = client.get_run(version.run_id)
        assert client.get_experiment(run.info.experiment_id).name == f"ocrops-{name}"  # an experiment per domain
        assert float(version.tags["test_cer"]) == pytest.approx(evaluation["test"]["adapted"]["cer"], rel=1e-5)
        digests.add(version.tags["test_set_digest"])
        # each domain's model reads its own test lines as its version records
        test = _test_split(folder)
        mlflow.set_tracking_uri(_store(project))
        model = mlflow.pyfunc.load_model(f"models:/ocrops-{name}@candidate")
        out = model.predict(pd.DataFrame({"image": [image_b64(line.path) for line in test]}))
        assert cer(list(out["raw_text"]), test.texts()) == pytest.approx(float(version.tags["test_cer"]), abs=1e-6)
        assert (folder / "outputs" / "export" / "export.json").exists()
    assert len(digests) == 2  # two test sets
    assert not (project / "outputs").exists()  # nothing written outside the domains' folders
    shown = json.loads(_dvc("metrics", "show", "--json", cwd=project).stdout)[""]["data"]
    assert {"pipelines/a/reports/metrics/evaluate.json", "pipelines/b/reports/metrics/evaluate.json"} <= set(shown)
    again = _dvc("repro", "-R", "pipelines/", cwd=project).stdout
    assert "Running stage" not in again


def test_domain_list_shows_each_domains_data_and_champion(project: Path):
    promoted = _ocrops("promote", "1", cwd=project / "pipelines" / "a")  # a domain's commands run in its folder
    assert "ocrops-a version 1 is now 'champion'" in promoted
    listed = _run([str(Path(sys.executable).parent / "ocrops"), "domain", "list"], project).stdout
    rows = {line.split()[1]: line for line in listed.splitlines() if "ocrops-" in line}
    version = MlflowClient(tracking_uri=_store(project)).get_model_version("ocrops-a", "1")
    assert "v1" in rows["a"] and f"{100 * float(version.tags['test_cer']):.2f} %" in rows["a"]
    assert "none" in rows["b"]  # registered, not promoted
    for name in RECIPES:
        digest = (project / "pipelines" / name / "data.dvc").read_text().split("md5: ")[1][:8]
        assert digest in rows[name]


def test_changing_one_domains_data_leaves_the_other_current(project: Path):
    data = project / "pipelines" / "b" / "data"
    line_image("蝉蜕 6g 水煎服").save(data / "images" / "extra.png")
    with (data / "labels.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"image": "images/extra.png", "text": "蝉蜕 6g 水煎服", "split": "train"},
                            ensure_ascii=False) + "\n")
    _dvc("add", "pipelines/b/data", cwd=project)
    status = _dvc("status", "-R", "pipelines/", cwd=project).stdout
    assert "pipelines/b/dvc.yaml:validate" in status and "pipelines/a/" not in status
    ran = _dvc("repro", "-R", "pipelines/", cwd=project).stdout
    assert "Running stage 'pipelines/b/dvc.yaml:train'" in ran and "Running stage 'pipelines/a/" not in ran
    client = MlflowClient(tracking_uri=_store(project))
    assert [str(v.version) for v in client.search_model_versions("name='ocrops-a'")] == ["1"]
    assert sorted(str(v.version) for v in client.search_model_versions("name='ocrops-b'")) == ["1", "2"]
