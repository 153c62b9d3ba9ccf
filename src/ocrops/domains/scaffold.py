"""``ocrops domain new``: a domain's folder, its params over the project's and its pipeline, made from the
project's dvc.yaml so the two run the same stages with the same code."""

from __future__ import annotations

import copy
import os
import re
import shutil
from pathlib import Path

import yaml

from ocrops.config import EXTENDS, PROJECT_FILES, load_params
from ocrops.data.contract import LABELS_FILE
from ocrops.domains import MODEL_PREFIX, PIPELINES
from ocrops.errors import ErrorCode, OcropsError

# a domain trains, reads and registers its own model and exports its engine; the Bento, its benchmark and its
# load test belong to the project, whose service serves every domain's champion (serve.models)
DOMAIN_STAGES = ("validate", "general", "train", "evaluate", "register", "export")
NAME = re.compile(r"[a-z][a-z0-9-]{0,38}")
# the sections whose inherited values a new domain's params.yaml shows in comments
SHOWN = ("train", "postprocess", "promote")
DATA_DIR = "data"


def domain_dir(project: Path, name: str) -> Path:
    return project / PIPELINES / name


def _up(folder: Path, project: Path) -> str:
    return os.path.relpath(project, folder)


def _dep(dep: str, up: str) -> str:
    """A dependency of a project stage as the domain's stage names it: its own data and outputs as they are,
    the project's files (code, locks, recipes) through ``up``."""
    found = re.fullmatch(r"\$\{((data|paths)\.[^}]+)\}", dep)
    if found and (found[2] == "data" or found[1] not in PROJECT_FILES):  # data.*: the domain's params name it
        return dep
    return f"{up}/{dep}"


def domain_pipeline(project_stages: dict, up: str, name: str) -> dict:
    """The domain's dvc.yaml: the project's stages in DOMAIN_STAGES, run in the domain's folder. Their params
    are the keys each stage reads from the project's params.yaml, and the whole of the domain's (DVC cannot
    track a key the domain's file only inherits)."""
    stages = {}
    for stage_name in DOMAIN_STAGES:
        stage = copy.deepcopy(project_stages["stages"][stage_name])
        stage["deps"] = [_dep(d, up) for d in stage["deps"]]
        # an empty list would track every key of the project's file: a stage that reads none lists none
        keys = list(stage.get("params", []))
        stage["params"] = [*([{f"{up}/params.yaml": keys}] if keys else []), {"params.yaml": None}]
        stages[stage_name] = stage
    made = {f"${{paths.{s}." for s in DOMAIN_STAGES}
    plots = [p for p in project_stages.get("plots", [])
             if all(any(m in path for m in made) for spec in p.values() for path in spec.get("y", {}))]
    return {"vars": [f"{up}/params.yaml:paths"], "stages": stages, "plots": plots,
            "artifacts": {"ocr-model": {"path": "${paths.train.model}", "type": "model",
                                        "desc": f"The {name} domain's recognizer; registered in MLflow as "
                                                f"models:/{MODEL_PREFIX}{name}@candidate",
                                        "labels": ["ocr", name]}}}


def _commented(section: str, values: dict) -> list[str]:
    text = yaml.safe_dump({section: values}, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return [f"# {line}" for line in text.splitlines()]


def _noted(line: str, comment: str) -> str:
    return f"{line:<29} # {comment}"


def domain_params(project: Path, folder: Path, name: str) -> str:
    """The domain's params.yaml: what differs (its data, experiment, registered model, Bento), then the
    inherited settings a team changes most, in comments."""
    up = _up(folder, project)
    inherited = load_params(project / "params.yaml").model_dump(mode="json", by_alias=True)
    model = f"{MODEL_PREFIX}{name}"
    lines = [
        f"# The {name} domain: its own pipeline (dvc repro {PIPELINES}/{name}/dvc.yaml), data, MLflow experiment and",
        "# registered model, with the project's code and stages. This file holds only what differs from the",
        f"# project's {up}/params.yaml, which it extends: every other setting is inherited from there (relative",
        "# file names there still name the project's files). Any change here reruns this domain's stages.",
        f"{EXTENDS}: {up}/params.yaml",
        "data:",
        _noted(f"  path: {DATA_DIR}", "this domain's lines: labels.jsonl + images/ (+ lexicon.txt); dvc add data"),
        _noted(f"  pages: {up}/{inherited['data']['pages']}", "page set (page evaluation): the project's until "
                                                                "this domain has its own"),
        _noted(f"  guard: {up}/{inherited['data']['guard']}", "real general lines, the forgetting guard: shared"),
        "mlflow:",
        f"  experiment: {model}",
        _noted(f"  registered_model: {model}", f"models:/{model}@champion"),
        "serve:",
        f"  bento: {model}",
        "",
        "# Inherited, among the rest; uncomment a key and change it to differ:",
    ]
    for section in SHOWN:
        lines += _commented(section, inherited[section])
    return "\n".join(lines) + "\n"


def new_domain(project: Path, name: str, source: Path | None = None) -> Path:
    """Make ``pipelines/NAME/``: params.yaml, dvc.yaml, .gitignore, and its data copied from ``source`` (a
    folder in the dataset contract) when given. Refuses a bad name or a domain that exists (4002)."""
    if not NAME.fullmatch(name):
        raise OcropsError(ErrorCode.INVALID_INPUT, f"domain name {name!r}: lower-case letters, digits and '-', "
                                                   "starting with a letter")
    folder = domain_dir(project, name)
    if folder.exists():
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{folder} exists")
    if source is not None and not (source / LABELS_FILE).exists():
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{source} has no {LABELS_FILE}: bring it into the dataset "
                                                   "contract first (ocrops data import SOURCE --out DIR)")
    project_stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    folder.mkdir(parents=True)
    (folder / "params.yaml").write_text(domain_params(project, folder, name), encoding="utf-8")
    write_pipeline(folder, project_stages, _up(folder, project), name)
    (folder / ".gitignore").write_text("/outputs/\n/dvc_plots/\n", encoding="utf-8")
    if source is not None:
        shutil.copytree(source, folder / DATA_DIR)
    return folder


def write_pipeline(folder: Path, project_stages: dict, up: str, name: str) -> None:
    header = (f"# The {name} domain's pipeline: the project's stages ({', '.join(DOMAIN_STAGES)}) run in this "
              f"folder.\n# Written by `ocrops domain new`; `ocrops domain sync` writes it again after the "
              f"project's dvc.yaml changes.\n")
    body = yaml.safe_dump(domain_pipeline(project_stages, up, name), sort_keys=False, allow_unicode=True)
    (folder / "dvc.yaml").write_text(header + body, encoding="utf-8")


def domains(project: Path) -> list[Path]:
    """The domain folders of the project: those under pipelines/ whose params.yaml extends another."""
    root = project / PIPELINES
    found = []
    for params in sorted(root.glob("*/params.yaml")) if root.is_dir() else []:
        raw = yaml.safe_load(params.read_text(encoding="utf-8")) or {}
        if isinstance(raw, dict) and EXTENDS in raw:
            found.append(params.parent)
    return found


def sync(project: Path) -> list[Path]:
    """Write every domain's dvc.yaml again from the project's; returns those that changed."""
    project_stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    changed = []
    for folder in domains(project):
        before = (folder / "dvc.yaml").read_text(encoding="utf-8") if (folder / "dvc.yaml").exists() else ""
        write_pipeline(folder, project_stages, _up(folder, project), folder.name)
        if (folder / "dvc.yaml").read_text(encoding="utf-8") != before:
            changed.append(folder)
    return changed
