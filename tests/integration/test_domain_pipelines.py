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
import psutil
import pytest
import requests
import yaml
from browser import ARTIFACTS
from mlflow.tracking import MlflowClient

from conftest import PROJECT, line_image, write_pages
from integration.test_dvc_validate import _dvc, _run, copy_stages, init_repo
from ocrops.config import SplitRatios
from ocrops.data.lines import LineDataset
from ocrops.data.synth import load_recipe, synthesize
from ocrops.domains.scaffold import DOMAIN_STAGES
from ocrops.evaluation.metrics import cer
from ocrops.harness.server import bento_server
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
    # the project's package stage too: its Bento serves both domains (serve.models)
    copy_stages(root, [*DOMAIN_STAGES, "package"], {
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
    rows = {row["name"]: row for row in json.loads(_ocrops("domain", "list", "--json", cwd=project))}
    version = MlflowClient(tracking_uri=_store(project)).get_model_version("ocrops-a", "1")
    assert rows["a"]["champion"] == "1" and rows["a"]["figures"]["test_cer"] == float(version.tags["test_cer"])
    assert rows["b"]["champion"] is None and rows["b"]["model"] == "ocrops-b"  # registered, not promoted
    for name in RECIPES:
        digest = (project / "pipelines" / name / "data.dvc").read_text().split("md5: ")[1][:8]
        assert rows[name]["data"].startswith(digest)
    assert "a " in _ocrops("domain", "list", cwd=project)  # and the table people read


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


def _rss_mb(pid: int) -> float:
    """Resident memory of a server: its process and every child (BentoML's workers)."""
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def test_one_bento_serves_each_domain_with_its_own_model(project: Path, tmp_path: Path):
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    params["serve"]["models"] = ["ocrops-a", "ocrops-b"]
    (project / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    # the project's serve section is no setting a domain's stages read: they stay current
    assert "changed" not in _dvc("status", "-R", "pipelines/", cwd=project).stdout
    built = _ocrops("stage", "package", cwd=project)
    report = json.loads((project / "reports" / "package.json").read_text(encoding="utf-8"))
    checks = report["serve_check"]["models"]
    for name in ("ocrops-a", "ocrops-b"):  # each domain's test split read by its own model, as registered
        assert checks[name]["same_test_set"] and checks[name]["matches"], (name, checks, built)
    client = MlflowClient(tracking_uri=_store(project))
    assert checks["ocrops-b"]["served_cer"] == pytest.approx(
        float(client.get_model_version_by_alias("ocrops-b", "candidate").tags["test_cer"]), rel=1e-5)
    bento = report["bento"]
    line = _test_split(project / "pipelines" / "b")[0]
    env = {"BENTOML_HOME": str(project / ".bentoml"), "OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}
    memory = {}
    server = bento_server(bento, env=env, cwd_log=tmp_path / "two.log")
    with server as url:
        memory["two_models_mb"] = _rss_mb(server.proc.pid)
        with open(line.path, "rb") as fh:
            image = fh.read()
        answers = {}
        for model in ("ocrops-a", "ocrops-b", None):
            form = {"model": model} if model else {}  # mode auto, as the chat endpoint reads
            answered = requests.post(url + "/ocr", files={"file": ("line.png", image)}, data=form, timeout=60)
            assert answered.status_code == 200, answered.text
            answers[model] = answered.json()
        assert answers["ocrops-b"]["model"]["name"] == "ocrops-b" and answers["ocrops-a"]["model"]["name"] == "ocrops-a"
        assert answers[None]["model"]["name"] == "ocrops-a"  # the first answers a request that names none
        refused = requests.post(url + "/ocr", files={"file": ("line.png", image)}, data={"model": "ocrops-c"},
                                timeout=60)
        assert refused.status_code == 400 and refused.json()["code"] == 4002
        message = refused.json()["message"]
        assert "'ocrops-a'" in message and "'ocrops-b'" in message  # the served ones named
        shown = refused.text.replace(refused.json()["request_id"], "...")
        assert shown in (PROJECT / "docs" / "how-to" / "domains.md").read_text(encoding="utf-8")  # as documented
        uri = "data:image/jpeg;base64," + image_b64(line.path)
        chat = requests.post(url + "/v1/chat/completions", json={"model": "ocrops-b", "messages": [{
            "role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}},
                                        {"type": "text", "text": "Text Recognition:"}]}]}, timeout=60)
        assert chat.status_code == 200, chat.text
        assert chat.json()["model"] == "ocrops-b"
        assert chat.json()["choices"][0]["message"]["content"] == answers["ocrops-b"]["text"]
        card = requests.post(url + "/model", timeout=10).json()
        assert [m["mlflow"]["name"] for m in card["models"]] == ["ocrops-a", "ocrops-b"]
        metrics = requests.get(url + "/metrics", timeout=10).text
        assert 'ocrops_lines_total{model="ocrops-b",needs_review=' in metrics
        assert 'ocrops_lines_total{model="ocrops-a",needs_review=' in metrics
    # the same Bento told to serve one: the other domain's name is refused
    one = bento_server(bento, env=env | {"OCROPS_SERVE_MODELS": '["ocrops-a"]'}, cwd_log=tmp_path / "one.log")
    with one as url:
        memory["one_model_mb"] = _rss_mb(one.proc.pid)
        refused = requests.post(url + "/ocr", files={"file": ("line.png", image)}, data={"model": "ocrops-b"},
                                timeout=60)
        assert refused.status_code == 400 and refused.json()["code"] == 4002
    memory["per_extra_model_mb"] = round(memory["two_models_mb"] - memory["one_model_mb"], 1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "domains_memory.json").write_text(json.dumps(memory, indent=2) + "\n", encoding="utf-8")
