"""validate -> general -> train -> evaluate -> register -> export -> benchmark -> package with the real
`dvc repro` on a small dataset, tracked and registered in MLflow, ending with a built bento that `bentoml serve`
answered; then what a team does with the registered version: load it by alias, serve it with `mlflow models
serve`, analyse it in the notebook, promote it (the gate refuses a worse model and an over-fitted one), move an
alias through the UI's REST API and rebuild the bento from it, rerun one step with `mlflow run`, read a version
on another test set with `ocrops evaluate`, and promote in the real MLflow UI in Chromium.

The tests of this module share one trained repository and run in order (pytest -n uses --dist loadfile).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
import yaml
from browser import ARTIFACTS, launch
from mlflow.tracking import MlflowClient
from mlflow_ui import VIEWPORT, headline_table, ocrops_ui, open_alias_dialog, shot, walk_to_version
from PIL import Image

from conftest import PROJECT, with_paths, write_pages
from integration.test_dvc_validate import _dvc, _env, _run, copy_stages, init_repo
from mlflow_server import MlflowServer, free_port
from ocrops.config import SplitRatios, load_params
from ocrops.data.lines import LineDataset
from ocrops.data.synth import load_recipe, synthesize
from ocrops.evaluation.metrics import cer
from ocrops.harness.server import ServerProcess
from ocrops.models import load_model
from ocrops.registry.pyfunc import image_b64

pytestmark = pytest.mark.integration

TINY = {"epochs": 1, "batch_size": 8, "augment": 0.3, "general_ratio": 0.2}
STAGES = ["validate", "general", "train", "evaluate", "register", "export", "benchmark", "package"]
SMALL_BENCHMARK = {"batch_sizes": [1, 4], "warmup": 1, "lines_per_point": 4, "concurrency": [1, 2],
                   "requests_per_client": 2, "rounds": 2}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train") / "repo"
    root.mkdir()
    # latency under a loaded test machine says nothing; the latency gate has its own unit tests. Even a 1-epoch
    # model, which reads a line quite differently with other padding, is served exactly as evaluated: reading is
    # batch-invariant, and the package stage allows no difference
    copy_stages(root, STAGES, {"train": TINY, "evaluate": {"latency_lines": 8}, "benchmark": SMALL_BENCHMARK,
                               "promote": {"max_latency_ms": 1e6, "max_guard_cer_rise": 100.0,
                                           "max_guard_cer_rise_champion": 100.0}})
    for extra in ("MLproject", "python_env.yaml", "notebooks/error_analysis.ipynb"):
        (root / extra).parent.mkdir(parents=True, exist_ok=True)
        (root / extra).write_bytes((PROJECT / extra).read_bytes())
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(
        update={"count": 40, "split": SplitRatios(train=0.6, val=0.2, test=0.2)})
    synthesize(recipe, root / "data", progress=False)
    write_pages(root / "pages", ["train", "val", "test"])
    init_repo(root)
    return root


def _store(repo: Path) -> str:
    return f"sqlite:///{repo}/mlruns/mlflow.db"


@pytest.fixture
def in_repo(repo: Path, monkeypatch) -> Path:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", _store(repo))
    mlflow.set_tracking_uri(_store(repo))
    return repo


def _test_split(repo: Path) -> LineDataset:
    rows = LineDataset.from_accepted(repo / "outputs" / "validate" / "accepted.jsonl", "test")
    return LineDataset([type(line)(str(repo / line.path), line.text) for line in rows])


def test_pipeline_trains_evaluates_registers_and_tracks(repo: Path):
    first = _dvc("repro", cwd=repo)
    for stage in STAGES:
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
    adapted = evaluation["test"]["adapted"]
    assert adapted["latency"]["p50_ms"] > 0 and adapted["latency"]["p95_ms"] >= adapted["latency"]["p50_ms"]
    assert 0 <= evaluation["test"]["adapted_postprocessed"]["cer"] <= 1
    lengths = [b["lines"] for k, b in evaluation["buckets"].items() if k.startswith("length")]
    assert sum(lengths) == evaluation["test_set"]["lines"]
    bars = json.loads((repo / "reports" / "plots" / "cer_by_bucket.json").read_text(encoding="utf-8"))
    assert {b["bucket"].rsplit(" · ", 1)[1] for b in bars} == {"base", "adapted"}
    gallery = (repo / "reports" / "error_gallery.html").read_text(encoding="utf-8")
    assert "Most frequent confusions" in gallery and "data:image/png;base64," in gallery

    client = MlflowClient(tracking_uri=_store(repo))
    run = client.get_run(train["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["train.epochs"] == "1"
    assert "mlflow.source.git.commit" in run.data.tags
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_cer")] == [1]
    assert run.data.metrics["test_cer"] == pytest.approx(adapted["cer"])  # register logged into the train run
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model", "train"} <= artifacts
    assert run.inputs.dataset_inputs

    version = client.get_model_version_by_alias("ocrops", "candidate")
    assert str(version.version) == "1" and version.run_id == run.info.run_id
    assert float(version.tags["test_cer"]) == pytest.approx(adapted["cer"], rel=1e-5)
    assert version.tags["test_set_digest"] == evaluation["test_set"]["digest"]
    assert version.tags["mlflow.source.git.commit"] and version.tags["family"] == "ppocr"
    # the confidence calibration: fitted, its threshold on the version and its page, the diagram beside the run
    calibration = evaluation["calibration"]
    assert calibration["map"]["method"] in ("isotonic", "platt") and 0 <= calibration["map"]["threshold"] <= 1
    assert float(version.tags["review_threshold"]) == pytest.approx(calibration["map"]["threshold"], rel=1e-5)
    assert f"tau = {calibration['map']['threshold']:.3f}" in version.description
    assert "reliability.png" in artifacts
    for curve in ("perfect", "test_raw", "test_calibrated"):
        assert json.loads((repo / "reports" / "plots" / "reliability" / f"{curve}.json").read_text())
    profile = json.loads((repo / "reports" / "drift_reference.json").read_text())
    assert profile["lines"] == evaluation["test_set"]["lines"] and len(profile["features"]["sharpness"]) == \
        profile["lines"]
    register = json.loads((repo / "reports" / "register.json").read_text())
    assert register["matches_evaluate"] is True and register["alias"] == "candidate"

    exported = json.loads((repo / "reports" / "export.json").read_text(encoding="utf-8"))
    assert exported["parity"]["ort_fp32"]["identical_share"] == 1.0
    assert exported["parity"]["ort_int8"]["lines"] == evaluation["test_set"]["lines"]
    if exported["tensorrt"]["status"] == "skipped":  # no CUDA here: recorded, not failed
        assert exported["tensorrt"]["reason"]
    manifest = json.loads((repo / "outputs" / "export" / "export.json").read_text(encoding="utf-8"))
    assert manifest["version"] == 1 and set(manifest["files"]) >= {"ort_fp32", "ort_int8"}
    bench = json.loads((repo / "reports" / "benchmark.json").read_text(encoding="utf-8"))
    assert set(bench["engines"]) >= {"torch", "ort_fp32", "ort_int8"}
    for figures in bench["engines"].values():
        assert set(figures["batch"]) == {"1", "4"} and set(figures["concurrency"]) == {"1", "2"}
        assert all(r["lines_per_s"] > 0 and r["p99_ms"] >= r["p50_ms"] for r in figures["batch"].values())
        assert all(r["errors"] == 0 for r in figures["concurrency"].values())
    assert "ort_fp32_vs_torch_b8" not in bench["ratios"]  # batch 8 was not measured
    shown = json.loads(_dvc("metrics", "show", "--json", cwd=repo).stdout)[""]["data"]
    assert "reports/metrics/benchmark.json" in shown and "reports/benchmark.json" not in shown  # headline only
    assert shown["reports/metrics/export.json"]["data"]["ort_fp32_identical_share"] == 1.0
    tags = client.get_model_version("ocrops", "1").tags
    assert tags["bench_machine"]
    assert tags["bench_tensorrt"] == exported["tensorrt"]["status"]
    assert "bench_ort_fp32_b4_lines_per_s" in client.get_run(run.info.run_id).data.metrics

    again = _dvc("repro", cwd=repo)
    assert "Running stage" not in again.stdout and "up to date" in again.stdout
    assert len(client.search_model_versions("name='ocrops'")) == 1  # nothing changed: no new version


def test_the_candidate_loaded_by_alias_reads_as_evaluated(in_repo: Path):
    evaluation = json.loads((in_repo / "reports" / "evaluate.json").read_text(encoding="utf-8"))
    test = _test_split(in_repo)
    model = mlflow.pyfunc.load_model("models:/ocrops@candidate")
    out = model.predict(pd.DataFrame({"image": [image_b64(line.path) for line in test]}))
    assert cer(list(out["raw_text"]), test.texts()) == pytest.approx(evaluation["test"]["adapted"]["cer"], abs=1e-12)
    assert list(out.columns) == ["text", "raw_text", "confidence", "mode", "lines", "error_code", "error", "width",
                                 "height", "rotation"]
    assert (out["height"] == [Image.open(line.path).height for line in test]).all() and set(out["rotation"]) == {0}
    assert out["confidence"].between(0, 1).all()
    assert set(out["mode"]) == {"line"} and set(out["error_code"]) == {0}  # mode line by default: no detection
    info = mlflow.models.get_model_info("models:/ocrops@candidate")
    assert info.signature.inputs.input_names() == ["image"]
    requirements = Path(mlflow.pyfunc.get_model_dependencies("models:/ocrops@candidate")).read_text()
    assert "torch==" in requirements and "+cpu" not in requirements and "rapidfuzz==" in requirements


def test_review_push_images_reads_a_folder_with_the_registered_version(in_repo: Path, tmp_path: Path):
    """`ocrops review push --images`: the folder's lines read by the version the alias names, with its own chain
    and calibration, as the pyfunc reads them; those it doubts kept like the service's captures."""
    from ocrops.data.captures import CaptureStore
    from ocrops.review.folder import read_folder

    test = _test_split(in_repo)
    folder = tmp_path / "scans"
    folder.mkdir()
    for k, line in enumerate(test):
        shutil.copy2(line.path, folder / f"{k:03d}{Path(line.path).suffix}")
    params = load_params(in_repo / "params.yaml")
    every = read_folder(folder, CaptureStore(str(tmp_path / "every")), params, "@candidate", every_line=True)
    version = str(MlflowClient().get_model_version_by_alias("ocrops", "candidate").version)
    assert every.model == {"name": "ocrops", "version": version, "alias": "candidate"}
    assert every.files == every.lines == every.kept == len(test) and not every.unreadable
    out = mlflow.pyfunc.load_model("models:/ocrops@candidate").predict(
        pd.DataFrame({"image": [image_b64(line.path) for line in test]}))
    kept = {line.record["file"]: line.record for line in CaptureStore(str(tmp_path / "every"))}
    threshold = float(MlflowClient().get_model_version("ocrops", version).tags["review_threshold"])
    assert [kept[f"{k:03d}{Path(line.path).suffix}"]["raw_text"] for k, line in enumerate(test)] == list(
        out["raw_text"])
    doubted = read_folder(folder, CaptureStore(str(tmp_path / "doubted")), params, "@candidate")
    assert doubted.kept == sum(r["confidence"] < threshold for r in kept.values())


def test_mlflow_models_serve_reads_images(in_repo: Path):
    port = free_port()
    log = open(in_repo / "models_serve.log", "wb")
    proc = subprocess.Popen(
        # `ocrops mlflow ...` is `mlflow ...` on the project's store: no MLFLOW_TRACKING_URI to remember
        [str(Path(sys.executable).parent / "ocrops"), "mlflow", "models", "serve", "-m", "models:/ocrops@candidate",
         "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port), "--workers", "1"],
        cwd=in_repo, env={k: v for k, v in _env().items() if k != "MLFLOW_TRACKING_URI"}, stdout=log, stderr=log,
        start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/ping", proc, in_repo / "models_serve.log")
        test = _test_split(in_repo)
        body = json.dumps({"dataframe_records": [{"image": image_b64(line.path)} for line in test[:3]]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            predictions = json.loads(answer.read())["predictions"]
        expected = load_model(in_repo / "outputs" / "train" / "model").predict([test.image(i) for i in range(3)])
        assert [p["raw_text"] for p in predictions] == [e.text for e in expected]
        assert not (in_repo / "mlflow.db").exists()  # what plain `mlflow` does without the variable
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=30)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer: {log.read_text(errors='replace')[-3000:]}")


def test_error_analysis_notebook_executes_on_the_candidate(in_repo: Path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(in_repo / "notebooks" / "error_analysis.ipynb", as_version=4)
    os.environ["OCROPS_PROJECT"] = str(in_repo)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(in_repo / "notebooks")}}).execute()
    finally:
        del os.environ["OCROPS_PROJECT"]
    text = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))
    evaluation = json.loads((in_repo / "reports" / "evaluate.json").read_text(encoding="utf-8"))
    assert "models:/ocrops@candidate -> version 1" in text
    assert f"CER {evaluation['test']['adapted']['cer']:.4%}" in text
    assert "worst lines, full page" in text
    assert (in_repo / "reports" / "notebook_error_gallery.html").exists()


def _worse_model(repo: Path, out: Path) -> Path:
    """The trained model with its CTC head disturbed: a deliberately worse model."""
    model = load_model(repo / "outputs" / "train" / "model")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        head = model.network.head
        head.weight.add_(torch.randn(head.weight.shape, generator=generator) * head.weight.std() * 1.5)
    return model.save(out)


def _ocrops(*args: str, cwd: Path, record: str | None = None) -> subprocess.CompletedProcess:
    """``ocrops ARGS`` without MLFLOW_TRACKING_URI: it finds the project's store from params.yaml. ``record``:
    append the command and its output to test-artifacts/RECORD.txt (the README's examples)."""
    env = {k: v for k, v in _env().items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run([str(Path(sys.executable).parent / "ocrops"), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    if record:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with (ARTIFACTS / f"{record}.txt").open("a", encoding="utf-8") as out:
            out.write(f"$ ocrops {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    return result


def test_the_gate_refuses_a_worse_model_and_force_overrides(in_repo: Path, tmp_path: Path):
    from ocrops.stages import evaluate, register

    (ARTIFACTS / "promote-worse.txt").unlink(missing_ok=True)
    first = _ocrops("promote", "1", cwd=in_repo, record="promote-worse")
    assert first.returncode == 0, first.stderr
    assert "version 1 is now 'champion'" in first.stdout

    worse = _worse_model(in_repo, tmp_path / "worse")
    elsewhere = {"metrics": tmp_path / "evaluate.json", "gallery": tmp_path / "gallery.html",
                 "buckets": tmp_path / "buckets.json", "confusions": tmp_path / "confusions.json",
                 "page_gallery": tmp_path / "page_gallery", "page_plot": tmp_path / "pages.json",
                 "reliability": tmp_path / "reliability", "reliability_png": tmp_path / "reliability.png",
                 "drift_reference": tmp_path / "drift_reference.json",
                 "headline": tmp_path / "evaluate-headline.json"}
    params = with_paths(load_params("params.yaml"), train={"model": worse}, evaluate=elsewhere,
                        register={"version": tmp_path / "version.json", "metrics": tmp_path / "register.json",
                                  "headline": tmp_path / "register-headline.json"})
    evaluation = evaluate.run(params)
    good = json.loads(Path("reports/evaluate.json").read_text(encoding="utf-8"))
    assert evaluation["test"]["adapted"]["cer"] > good["test"]["adapted"]["cer"] + 0.01
    registered = register.run(params)
    assert registered["version"] == 2

    refused = _ocrops("promote", "2", cwd=in_repo, record="promote-worse")
    assert refused.returncode == 1
    assert "refused" in refused.stderr and "worse than the champion" in refused.stderr
    client = MlflowClient(tracking_uri=_store(in_repo))
    assert str(client.get_model_version_by_alias("ocrops", "champion").version) == "1"

    missing = _ocrops("promote", "99", cwd=in_repo, record="promote-worse")
    assert missing.returncode == 1 and "has no version '99'" in missing.stderr

    forced = _ocrops("promote", "2", "--force", cwd=in_repo, record="promote-worse")
    assert forced.returncode == 0 and "forced" in forced.stdout
    assert str(client.get_model_version_by_alias("ocrops", "champion").version) == "2"
    override = json.loads(client.get_model_version("ocrops", "2").tags["promotion.override"])
    assert override["replaced"] == "1" and "worse than the champion" in override["reasons"][0]


def test_an_alias_moved_in_the_ui_is_what_gets_served(in_repo: Path, monkeypatch):
    """The MLflow UI sets aliases through this REST call; the package stage resolves the alias it set."""
    from ocrops.registry.versions import serving_version
    from ocrops.tracking import download_registered

    with MlflowServer(in_repo / "mlruns") as server:
        request = urllib.request.Request(
            f"{server.uri}/ajax-api/2.0/mlflow/registered-models/alias", method="POST",
            data=json.dumps({"name": "ocrops", "alias": "champion", "version": "1"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        mlflow.set_tracking_uri(server.uri)
        assert serving_version(MlflowClient(server.uri), "ocrops") == ("champion", "1")
        folder = download_registered("models:/ocrops@champion")
        served = load_model(folder).module.state_dict()
        trained = load_model(in_repo / "outputs" / "train" / "model").module.state_dict()
        assert all(torch.equal(served[k], trained[k]) for k in trained)


def test_the_bento_is_built_from_the_alias_set_in_the_ui(in_repo: Path, tmp_path: Path):
    """A new version promoted in the UI: `dvc repro --force --downstream package` builds a bento of it, and
    `bentoml serve` of that bento reads the test split as the version was evaluated."""
    from ocrops.stages import register

    first = json.loads((in_repo / "reports" / "package.json").read_text(encoding="utf-8"))
    assert first["serve_check"]["matches"] and first["serve_check"]["same_test_set"]
    bento = json.loads((in_repo / "outputs" / "package" / "bento.json").read_text(encoding="utf-8"))
    assert (in_repo / ".bentoml" / "bentos" / bento["bento"].replace(":", "/") / bento["dockerfile"]).exists()

    params = with_paths(load_params("params.yaml"),
                        register={"version": tmp_path / "version.json", "metrics": tmp_path / "register.json",
                                  "headline": tmp_path / "register-headline.json"})
    new = register.run(params)["version"]
    with MlflowServer(in_repo / "mlruns") as server:
        request = urllib.request.Request(
            f"{server.uri}/ajax-api/2.0/mlflow/registered-models/alias", method="POST",
            data=json.dumps({"name": "ocrops", "alias": "champion", "version": str(new)}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
    rebuilt = _dvc("repro", "--force", "--downstream", "package", cwd=in_repo)  # as the README says
    assert "Running stage 'package'" in rebuilt.stdout
    # its serve check reads at a rate the service takes: no load shed, no retry
    assert "5030" not in rebuilt.stdout + rebuilt.stderr and "retry" not in rebuilt.stdout + rebuilt.stderr
    # the hint it prints works as printed (from the project root, with only a port added)
    hint = re.search(r"`(BENTOML_HOME=\$PWD/\.bentoml bentoml serve [^`]+)`", rebuilt.stdout + rebuilt.stderr)
    assert hint is not None, rebuilt.stdout
    port = free_port()
    with ServerProcess(["bash", "-c", f"{hint.group(1)} --port {port}"], port, env={"PATH": _env()["PATH"]},
                       log_path=tmp_path / "hint.log") as url, urllib.request.urlopen(f"{url}/healthz") as answer:
        assert answer.status == 200
    report = json.loads((in_repo / "reports" / "package.json").read_text(encoding="utf-8"))
    assert report["mlflow_version"] == new and report["alias"] == "champion"
    assert report["serve_check"]["matches"] and report["bento"] != first["bento"]
    quiet = _dvc("repro", "package", cwd=in_repo)
    assert "Running stage" not in quiet.stdout  # nothing changed: nothing runs


def test_mlflow_run_evaluate_entry_point(in_repo: Path):
    result = _run([str(Path(sys.executable).parent / "mlflow"), "run", ".", "-e", "evaluate", "--env-manager",
                   "local", "--experiment-name", "ocrops"], in_repo)
    assert "evaluate: test CER" in result.stdout + result.stderr
    client = MlflowClient(tracking_uri=_store(in_repo))
    experiment = client.get_experiment_by_name("ocrops")
    runs = client.search_runs([experiment.experiment_id], "metrics.`evaluate.test.adapted.cer` >= 0")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"


def _on_another_test_set(root: Path, tmp_path: Path):
    """Params for a second dataset, ``data2`` in the repository (the same recipe, another seed: another test
    set), whose validate/evaluate/register files are under ``tmp_path``."""
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(
        update={"count": 30, "seed": 7, "split": SplitRatios(train=0.5, val=0.2, test=0.3)})
    synthesize(recipe, root / "data2", progress=False)
    params = load_params(root / "params.yaml")
    params = params.model_copy(update={"data": params.data.model_copy(update={"path": "data2"})})
    validate_files = {k: tmp_path / "validate" / Path(v).name
                      for k, v in params.paths.validate_.model_dump().items()}
    evaluate_files = {"metrics": tmp_path / "evaluate.json", "gallery": tmp_path / "gallery.html",
                      "buckets": tmp_path / "buckets.json", "confusions": tmp_path / "confusions.json",
                      "page_gallery": tmp_path / "page_gallery", "page_plot": tmp_path / "pages.json",
                 "reliability": tmp_path / "reliability", "reliability_png": tmp_path / "reliability.png",
                 "drift_reference": tmp_path / "drift_reference.json",
                      "headline": tmp_path / "evaluate-headline.json"}
    return with_paths(params, validate=validate_files, evaluate=evaluate_files,
                      register={"version": tmp_path / "version.json", "metrics": tmp_path / "register.json",
                                "headline": tmp_path / "register-headline.json"})


def test_versions_on_different_test_sets_are_compared_after_ocrops_evaluate(in_repo: Path, tmp_path: Path):
    from ocrops.stages import evaluate, register, validate

    client = MlflowClient(tracking_uri=_store(in_repo))
    (ARTIFACTS / "evaluate-versions.txt").unlink(missing_ok=True)
    elsewhere = _on_another_test_set(in_repo, tmp_path)
    validate.run(elsewhere)
    other = evaluate.run(elsewhere)
    mine = json.loads(Path("reports/evaluate.json").read_text(encoding="utf-8"))
    assert other["test_set"]["digest"] != mine["test_set"]["digest"]
    second = str(register.run(elsewhere)["version"])  # the same model, registered on the other test set
    client.set_registered_model_alias("ocrops", "champion", second)

    refused = _ocrops("promote", "1", cwd=in_repo, record="evaluate-versions")
    assert refused.returncode == 1 and "different test set" in refused.stderr
    assert f"ocrops evaluate {second}" in refused.stderr.replace("\n", " ")

    # version 1 read on the champion's test set: the figures land on the version, under that test set
    read = _ocrops("evaluate", "1", "--dataset", "data2", cwd=in_repo, record="evaluate-versions")
    assert read.returncode == 0, read.stderr
    assert f"version 1 on data2 (test split): {other['test_set']['lines']} lines" in read.stdout
    recorded = json.loads(client.get_model_version("ocrops", "1").tags[
        f"evaluation.{other['test_set']['digest'][:12]}"])
    assert recorded["digest"] == other["test_set"]["digest"]
    # the same model and chain read the same lines as the evaluate stage did there
    assert recorded["cer"] == pytest.approx(other["test"]["adapted"]["cer"], abs=1e-9)
    assert "**Also evaluated on**" in client.get_model_version("ocrops", "1").description

    decided = _ocrops("promote", "1", cwd=in_repo, record="evaluate-versions")
    assert decided.returncode == 0, decided.stderr  # equal figures on one test set: allowed
    assert str(client.get_model_version_by_alias("ocrops", "champion").version) == "1"
    page = client.get_model_version("ocrops", "1").description
    assert page.startswith("| Figure | This version | Base model |") and "This version is the `champion`." in page
    # the replaced champion's page now compares it with version 1 on the test set both were read on
    assert "Versus the champion (version 1) on" in client.get_model_version("ocrops", second).description

    # an alias names a version too: the champion read on the current test split
    current = _ocrops("evaluate", "@champion", cwd=in_repo)
    assert current.returncode == 0 and "registered figures stay as they are" in current.stdout
    elsewhere_read = _ocrops("evaluate", second, cwd=in_repo)
    assert elsewhere_read.returncode == 0, elsewhere_read.stderr
    assert f"version {second} on data (test split): {mine['test_set']['lines']} lines" in elsewhere_read.stdout
    missing = _ocrops("evaluate", "@nobody", cwd=in_repo)
    assert missing.returncode == 1 and "[5002] cannot find models:/ocrops@nobody" in missing.stderr


def test_the_gate_refuses_a_deliberately_overfitted_model_for_its_guard_cer(in_repo: Path, tmp_path: Path):
    """8 epochs at a high learning rate on 24 domain lines, with no augmentation, no general lines and no pull
    toward the pretrained weights: the model forgets general reading, and `ocrops promote` (default
    promote.max_guard_cer_rise, 0.1 points) refuses it, saying so."""
    from ocrops.stages import evaluate, register, train

    params = load_params("params.yaml")
    # at the default learning rate even 20 epochs leave the three guard lines as they were: 4x it, no warm-up
    overfit = params.train.model_copy(update={"epochs": 8, "lr": 0.002, "warmup": 0.0, "augment": 0.0,
                                              "general_ratio": 0.0, "l2sp": 0.0, "weight_decay": 0.0,
                                              "patience": 8})
    files = {"model": tmp_path / "model", "checkpoints": tmp_path / "checkpoints", "preview": tmp_path / "p.png",
             "history": tmp_path / "history.json", "metrics": tmp_path / "train.json",
             "headline": tmp_path / "train-headline.json"}
    params = with_paths(params.model_copy(update={"train": overfit}), train=files,
                        evaluate={"metrics": tmp_path / "evaluate.json", "gallery": tmp_path / "gallery.html",
                                  "buckets": tmp_path / "buckets.json", "confusions": tmp_path / "confusions.json",
                                  "page_gallery": tmp_path / "page_gallery", "page_plot": tmp_path / "pages.json",
                 "reliability": tmp_path / "reliability", "reliability_png": tmp_path / "reliability.png",
                 "drift_reference": tmp_path / "drift_reference.json",
                 "headline": tmp_path / "evaluate-headline.json"},
                        register={"version": tmp_path / "version.json", "metrics": tmp_path / "register.json",
                                  "headline": tmp_path / "register-headline.json"})
    trained = train.run(params)
    assert trained["epochs_run"] == 8
    guard = evaluate.run(params)["guard"]
    assert guard["cer_change_points"] > 0.1, guard  # it did forget
    version = str(register.run(params)["version"])
    (ARTIFACTS / "promote-overfit.txt").unlink(missing_ok=True)
    default = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    default["promote"] = {"max_latency_ms": 1e6}  # the latency budget aside (a loaded test machine), defaults
    Path("promote-defaults.yaml").write_text(yaml.safe_dump(default), encoding="utf-8")
    refused = _ocrops("promote", version, "--params", "promote-defaults.yaml", cwd=in_repo, record="promote-overfit")
    assert refused.returncode == 1
    reason = " ".join(refused.stderr.split())
    assert (f"guard CER {100 * guard['adapted']['cer']:.2f}% is {guard['cer_change_points']:.2f} points above the "
            f"base model's {100 * guard['base']['cer']:.2f}%") in reason
    assert "promote.max_guard_cer_rise 0.1 points): the adaptation has forgotten general reading" in reason


@pytest.fixture(scope="module")
def browser():
    yield from launch()


def test_a_person_promotes_in_the_mlflow_ui_with_the_figures_in_sight(in_repo: Path, browser, tmp_path: Path):
    """The README's path through MLflow 3.17's UI from `ocrops ui`: the version page opens on the headline table
    `register` wrote; the alias dialog sets `champion`; the UI sends no telemetry."""
    client = MlflowClient(tracking_uri=_store(in_repo))
    for alias in client.get_model_version("ocrops", "1").aliases:
        client.delete_registered_model_alias("ocrops", alias)
    tags = client.get_model_version("ocrops", "1").tags
    with ocrops_ui(in_repo, tmp_path / "ui.log") as url:
        with urllib.request.urlopen(f"{url}/ajax-api/3.0/mlflow/ui-telemetry", timeout=30) as answer:
            assert json.loads(answer.read())["disable_ui_telemetry"] is True
        tab = browser.new_context(viewport=VIEWPORT).new_page()
        walk_to_version(tab, url, "ocrops", "1", ARTIFACTS)
        table = headline_table(tab)
        box = table.bounding_box()
        assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"]  # in sight, no scrolling
        rows = table.inner_text()
        assert f"{100 * float(tags['test_cer']):.2f} %" in rows and "Guard CER (real scans)" in rows
        shot(tab, ARTIFACTS, "mlflow-version-page.png")
        dialog = open_alias_dialog(tab, "champion")
        shot(tab, ARTIFACTS, "mlflow-edit-alias.png")
        dialog.get_by_role("button", name="Save aliases").click()
        dialog.wait_for(state="hidden")
    assert str(client.get_model_version_by_alias("ocrops", "champion").version) == "1"
