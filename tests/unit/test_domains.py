"""Several domains in one project: a domain's params over the project's, its pipeline made from the project's
dvc.yaml, the `ocrops domain` commands."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import PROJECT, write_dataset
from ocrops.cli import app
from ocrops.config import load_params
from ocrops.domains.scaffold import DOMAIN_STAGES, domain_pipeline, domains, new_domain, sync
from ocrops.errors import ErrorCode, OcropsError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project's params.yaml and dvc.yaml in a folder of their own."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy2(PROJECT / name, root / name)
    return root


def test_a_domain_inherits_the_project_params_and_overrides_what_it_names(project: Path):
    folder = project / "pipelines" / "lab"
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text("extends: ../../params.yaml\ndata: {path: lines}\n"
                                        "train: {epochs: 7}\nmlflow: {registered_model: ocrops-lab}\n")
    base, domain = load_params(project / "params.yaml"), load_params(folder / "params.yaml")
    assert domain.train.epochs == 7 and domain.mlflow.registered_model == "ocrops-lab"
    assert domain.train.lr == base.train.lr and domain.train.base == base.train.base == "ppocr-v6"  # a preset
    assert domain.promote == base.promote and domain.serve.max_lines == base.serve.max_lines
    assert domain.data.path == "lines"  # written in the domain: the domain's folder
    # inherited file names still name the project's files, seen from the domain's folder
    assert domain.data.guard == "../../guard" and domain.data.pages == "../../pages"
    assert domain.mlflow.tracking_uri == "sqlite:///../../mlruns/mlflow.db"
    assert domain.paths.general.recipe == Path("../../recipes/general.yaml")
    assert domain.paths.package.bentoml_home == Path("../../.bentoml")
    assert (folder / domain.paths.general.recipe).resolve() == (project / "recipes/general.yaml").resolve()
    # outputs are the domain's own: the same catalog under its folder
    assert domain.paths.train.model == base.paths.train.model == Path("outputs/train/model")


def test_a_domain_may_not_move_the_catalog_and_names_a_missing_parent(project: Path):
    folder = project / "pipelines" / "lab"
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text("extends: ../../params.yaml\npaths: {train: {model: elsewhere}}\n")
    with pytest.raises(OcropsError, match="remove paths:") as info:
        load_params(folder / "params.yaml")
    assert info.value.code == ErrorCode.INVALID_INPUT
    (folder / "params.yaml").write_text("extends: ../params.yaml\n")
    with pytest.raises(OcropsError, match="params file not found"):
        load_params(folder / "params.yaml")


def test_the_domain_pipeline_runs_the_project_stages_on_the_project_code(project: Path):
    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text(encoding="utf-8"))
    pipeline = domain_pipeline(stages, "../..", "lab")
    assert list(pipeline["stages"]) == list(DOMAIN_STAGES)
    assert pipeline["vars"] == ["../../params.yaml:paths"]
    params = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    for name, stage in pipeline["stages"].items():
        assert stage["cmd"] == stages["stages"][name]["cmd"]
        keys = stages["stages"][name].get("params", [])
        assert stage["params"] == [*([{"../../params.yaml": keys}] if keys else []), {"params.yaml": None}]
        for dep in stage["deps"]:
            if dep.startswith("${"):  # the domain's data and outputs
                assert dep.startswith(("${data.", "${paths."))
                continue
            assert dep.startswith("../../"), dep
            local = dep.removeprefix("../../").replace("${paths.general.recipe}", params["paths"]["general"]["recipe"])
            assert (PROJECT / local).exists(), dep  # every file of the project it names is there
    plotted = [path for plot in pipeline["plots"] for spec in plot.values() for path in spec["y"]]
    assert plotted and not [p for p in plotted if "benchmark" in p or "loadtest" in p]


def test_new_domain_writes_params_that_load_and_refuses_bad_names(project: Path, tmp_path: Path):
    source = write_dataset(tmp_path / "lines", [("a.png", "血红蛋白", "train"), ("b.png", "肌酐", "test")])
    folder = new_domain(project, "lab", source)
    params = load_params(folder / "params.yaml")
    assert params.mlflow.registered_model == "ocrops-lab" and params.mlflow.experiment == "ocrops-lab"
    assert params.serve.bento == "ocrops-lab"
    assert (folder / params.data.path / "labels.jsonl").exists() and params.data.guard == "../../guard"
    text = (folder / "params.yaml").read_text(encoding="utf-8")
    assert "# train:" in text and "#   epochs: 3" in text  # inherited values shown, commented out
    assert domains(project) == [folder]
    for bad, message in (("Lab", "lower-case"), ("lab", "exists"), ("1x", "lower-case")):
        with pytest.raises(OcropsError, match=message):
            new_domain(project, bad)
    with pytest.raises(OcropsError, match="no labels.jsonl"):
        new_domain(project, "empty", tmp_path)


def test_sync_writes_the_domain_pipelines_again_after_the_project_changes(project: Path):
    folder = new_domain(project, "lab")
    assert sync(project) == []
    stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    stages["stages"]["train"]["deps"].append("recipes/extra.yaml")
    (project / "dvc.yaml").write_text(yaml.safe_dump(stages), encoding="utf-8")
    assert sync(project) == [folder]
    assert "../../recipes/extra.yaml" in yaml.safe_load((folder / "dvc.yaml").read_text())["stages"]["train"]["deps"]


def test_domain_commands_make_and_list_domains(project: Path, monkeypatch):
    monkeypatch.chdir(project)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    runner = CliRunner()
    made = runner.invoke(app, ["domain", "new", "invoices"])
    assert made.exit_code == 0, made.output
    assert "dvc add pipelines/invoices/data" in made.output
    listed = runner.invoke(app, ["domain", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    project_row, domain = json.loads(listed.output)
    assert project_row["name"] == "." and project_row["model"] == "ocrops"
    assert domain == {"name": "invoices", "folder": "pipelines/invoices", "model": "ocrops-invoices",
                      "data": "not versioned (dvc add data)", "champion": None, "figures": {}}
    table = runner.invoke(app, ["domain", "list"])
    assert table.exit_code == 0 and "invoices" in table.output
    assert not (project / "mlruns").exists()  # listing made no store
    refused = runner.invoke(app, ["domain", "new", "invoices"])
    assert refused.exit_code == 2 and "exists" in refused.output
    assert os.path.isdir(project / "pipelines" / "invoices")
