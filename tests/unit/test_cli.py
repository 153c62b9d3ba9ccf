import json
import os
from pathlib import Path

import yaml
from typer.testing import CliRunner

from conftest import PROJECT, line_image
from ocrops.cli import app

runner = CliRunner()


def test_import_pairs_then_validate_passes(tmp_path: Path, monkeypatch):
    """A new user's folder of .png + .gt.txt pairs becomes a dataset that passes validation."""
    monkeypatch.chdir(tmp_path)  # the reports go where params.yaml's paths say, relative to the project
    src = tmp_path / "scans"
    src.mkdir()
    for i in range(40):
        line_image(f"line {i}").save(src / f"{i:03d}.png")
        (src / f"{i:03d}.gt.txt").write_text(f"肌酐 {i} μmol/L", encoding="utf-8")
    out = tmp_path / "dataset"
    params = str(PROJECT / "params.yaml")
    result = runner.invoke(app, ["data", "import", str(src), "--out", str(out), "--params", params])
    assert result.exit_code == 0, result.output
    assert "imported 40 rows" in result.output
    result = runner.invoke(app, ["data", "validate", str(out), "--params", str(PROJECT / "params.yaml")])
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "reports" / "validation.json").read_text(encoding="utf-8"))
    assert figures["accepted"] == 40 and figures["passed"]


def test_stats_json_and_table(small_dataset: Path):
    result = runner.invoke(app, ["data", "stats", str(small_dataset), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["splits"] == {"train": 8, "val": 2, "test": 2}
    table = runner.invoke(app, ["data", "stats", str(small_dataset)])
    flat = " ".join(table.output.split())  # rich wraps at the terminal width
    assert "12 rows" in flat and "outside the ppocr vocabulary: ㎍×12" in flat


def test_export_sharegpt(small_dataset: Path, tmp_path: Path):
    result = runner.invoke(app, ["data", "export", str(small_dataset), "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 0 and "wrote 12 records" in result.output


def test_import_into_non_empty_folder_is_refused(small_dataset: Path, tmp_path: Path):
    result = runner.invoke(app, ["data", "import", str(tmp_path), "--out", str(small_dataset)])
    assert result.exit_code == 2 and "--overwrite" in result.output


def test_validate_failure_exits_1_with_reason(tmp_path: Path, small_dataset: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (small_dataset / "images" / "000.png").write_bytes(b"")
    (tmp_path / "params.yaml").write_text("validate: {max_rejected_share: 0.01}\n")
    result = runner.invoke(app, ["data", "validate", str(small_dataset), "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 1
    assert "rows rejected" in result.output


def test_synth_cli_writes_recipe_with_overrides(tmp_path: Path):
    result = runner.invoke(app, ["synth", "lines", str(PROJECT / "recipes" / "hospital.yaml"), "--out",
                                 str(tmp_path / "s"), "--count", "5", "--seed", "7"])
    assert result.exit_code == 0, result.output
    recipe = (tmp_path / "s" / "recipe.yaml").read_text(encoding="utf-8")
    assert "count: 5" in recipe and "seed: 7" in recipe
    assert len(list((tmp_path / "s" / "images").iterdir())) == 5


def test_synth_pages_cli_renders_labelled_pages(tmp_path: Path):
    from ocrops.data.pages import read_pages

    out = tmp_path / "pages"
    result = runner.invoke(app, ["synth", "pages", str(PROJECT / "recipes" / "hospital.yaml"), "--out", str(out),
                                 "--count", "3"])
    assert result.exit_code == 0, result.output
    rows, bad = read_pages(out)
    assert len(rows) == 3 and not bad
    assert all(30 <= len(r.lines) <= 125 for r in rows), [len(r.lines) for r in rows]
    assert "rendered 3 pages" in result.output


def test_stage_runs_one_stage_and_refuses_unknown_names(tmp_path: Path, small_dataset: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(f"data: {{path: {small_dataset}}}\n")
    result = runner.invoke(app, ["stage", "validate", "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "reports" / "validation.json").read_text())["accepted"] == 12
    unknown = runner.invoke(app, ["stage", "deploy", "--params", str(tmp_path / "params.yaml")])
    assert unknown.exit_code == 2


def test_the_ocrops_command_keeps_other_tools_quiet_whoever_starts_it():
    """Telemetry off and MLflow's artifact progress bar off without the Makefile's environment."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    shown = subprocess.run([sys.executable, "-c", "import os, ocrops.cli; print(os.environ["
                            "'MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR'], os.environ['MLFLOW_DISABLE_TELEMETRY'])"],
                           env=env, capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["false", "true"]


def test_the_batch_job_drops_only_mlflows_local_environment_warning():
    import logging

    from ocrops.batch.job import _LOCAL_ENV_WARNING

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("mlflow.pyfunc", logging.WARNING, __file__, 1, message, None, None)

    assert not _LOCAL_ENV_WARNING.filter(record('Calling `spark_udf()` with `env_manager="local"` does not ...'))
    assert _LOCAL_ENV_WARNING.filter(record("Detected one or more mismatches between the model's dependencies"))


def test_ocrops_serve_keeps_a_relative_capture_store_in_the_project(tmp_path, monkeypatch):
    """`bentoml serve` runs from the Bento's folder: a relative store is made absolute where `ocrops serve` runs."""
    from ocrops.cli.serving import CAPTURE_URL_ENV, capture_url
    from ocrops.config import Params

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CAPTURE_URL_ENV, raising=False)
    assert capture_url(Params()) == str(tmp_path / "captures")
    monkeypatch.setenv(CAPTURE_URL_ENV, "kept/lines")
    assert capture_url(Params()) == str(tmp_path / "kept" / "lines")
    monkeypatch.setenv(CAPTURE_URL_ENV, "s3://bucket/ocrops-captures")
    assert capture_url(Params()) == "s3://bucket/ocrops-captures"


def test_batch_job_takes_its_archive_and_model_from_params(tmp_path: Path, monkeypatch):
    """`ocrops batch --job NAME` (what the dvc stage batch@NAME runs) reads the job's input, output and model."""
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    params["batch"]["jobs"] = {"lab": {"input": "archive/lab", "output": "out/lab", "model": "ocrops-lab@champion"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    runner = CliRunner()
    unknown = runner.invoke(app, ["batch", "--job", "scans"])
    assert unknown.exit_code == 2 and "no job 'scans'; it has: lab" in unknown.output
    both = runner.invoke(app, ["batch", "in", "out", "--job", "lab"])
    assert both.exit_code == 2 and "give no SOURCE OUTPUT" in both.output
    neither = runner.invoke(app, ["batch"])
    assert neither.exit_code == 2 and "--job NAME" in neither.output
    # the job's model is the one looked up in the registry (an empty store here: refused, naming it)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    found = runner.invoke(app, ["batch", "--job", "lab"])
    assert found.exit_code == 1 and "ocrops-lab" in found.output
