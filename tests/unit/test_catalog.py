"""One catalog of paths: params.yaml's ``paths:`` and the schema's defaults are the same values, and no module
names a stage's input or output by a literal of its own (it reads ``params.paths``)."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from conftest import PROJECT
from ocrops.config import Paths

PACKAGE = PROJECT / "src" / "ocrops"
# where stages and the commands beside them read and write: only the catalog (config.py) spells these out
STAGE_PREFIXES = ("outputs/", "reports/", "recipes/", "bentos/", "deploy/", ".bentoml")


def test_params_yaml_writes_out_the_schema_defaults():
    written = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))["paths"]
    assert Paths.model_validate(written) == Paths(), "params.yaml paths: and ocrops.config.Paths disagree"
    assert Paths.model_validate(written).model_dump(by_alias=True).keys() == written.keys()  # every section written


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def stray_paths(root: Path) -> list[str]:
    """``file:line literal`` (file relative to ``root``) for every string constant, docstrings aside, that starts
    like a stage path; the catalog itself (``root``/config.py) is skipped."""
    stray = []
    for path in sorted(root.rglob("*.py")):
        if path == root / "config.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                    and node.value.startswith(STAGE_PREFIXES)):
                stray.append(f"{path.relative_to(root)}:{node.lineno} {node.value!r}")
    return stray


def test_no_stage_path_outside_the_catalog():
    assert stray_paths(PACKAGE) == [], "read these from params.paths (ocrops.config.Paths)"


def test_the_check_finds_a_stray_path(tmp_path: Path):
    (tmp_path / "stage.py").write_text('"""Writes reports/x.json."""\nREPORT = "reports/x.json"\n', encoding="utf-8")
    (tmp_path / "config.py").write_text('REPORT = "reports/x.json"\n', encoding="utf-8")
    assert stray_paths(tmp_path) == ["stage.py:2 'reports/x.json'"]  # neither the docstring nor the catalog


def test_headline_figures_are_picked_by_dotted_keys_whatever_the_key_type(tmp_path: Path):
    from ocrops.data.files import write_headline

    report = {"engines": {"ort_fp32": {"batch": {8: {"lines_per_s": 3.5}}}}, "pages": {"1": 2}, "status": "ok"}
    picks = {"lines_per_s": "engines.ort_fp32.batch.8.lines_per_s", "pages": "pages.1", "skipped": "tensorrt.x",
             "status": "status"}
    figures = write_headline(tmp_path / "h.json", report, picks)
    assert figures == {"lines_per_s": 3.5, "pages": 2}  # absent parts and text are left out
    assert yaml.safe_load((tmp_path / "h.json").read_text(encoding="utf-8")) == figures
