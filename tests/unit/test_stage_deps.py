"""dvc.yaml's deps are complete: every ocrops module a stage can import (directly, indirectly, inside functions,
and the model families it loads through the registry) is a dependency of that stage, so a change to any of them
makes DVC rerun it. A failure lists what to add."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest
import yaml

from conftest import PROJECT
from ocrops.families import families
from ocrops.stages import STAGES

SRC = PROJECT / "src"
# stages that serve the Bento: the service module's imports count for them too
SERVING = {"package": PROJECT / "bentos" / "service.py", "loadtest": PROJECT / "bentos" / "service.py"}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("ocrops", exclude_type_checking_imports=True)


def _with_upstream(graph, modules: set[str]) -> set[str]:
    found = set(modules)
    for module in modules:
        found |= graph.find_upstream_modules(module)
    return found


def _loads_family_code(module: str) -> bool:
    return ".code()" in _module_file(module).read_text(encoding="utf-8")


def _closure(graph, roots: set[str]) -> set[str]:
    """What the roots import, plus what the family registry imports by name at run time: every built-in
    family's record and settings model once the registry is reached, and its code wherever a reached module
    loads family code (``Family.code()``)."""
    found = _with_upstream(graph, roots)
    records = [f for f in families().values() if f.implementation.startswith("ocrops.")]
    if "ocrops.family" in found:
        found = _with_upstream(graph, found | {f.implementation.partition(":")[0].rsplit(".", 1)[0] for f in records}
                               | {f.settings.partition(":")[0] for f in records if f.settings})
    if any(_loads_family_code(m) for m in found if m.startswith("ocrops")):
        found = _with_upstream(graph, found | {f.implementation.partition(":")[0] for f in records})
    return found


def _module_file(module: str) -> Path:
    path = SRC / Path(*module.split("."))
    return (path / "__init__.py") if path.is_dir() else path.with_suffix(".py")


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
            and node.module.startswith("ocrops")}


def _covered(file: Path, deps: list[str]) -> bool:
    rel = file.relative_to(PROJECT).as_posix()
    return any(rel == dep or rel.startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", STAGES)
def test_every_module_a_stage_imports_is_a_dependency(graph, stage):
    deps = yaml.safe_load((PROJECT / "dvc.yaml").read_text(encoding="utf-8"))["stages"][stage]["deps"]
    roots = {f"ocrops.stages.{stage}"}
    if stage in SERVING:
        roots |= _imports_of(SERVING[stage])
        assert _covered(SERVING[stage], deps), f"{stage}: add bentos/service.py"
    files = sorted({_module_file(m) for m in _closure(graph, roots)} - {_module_file("ocrops")})
    missing = [f.relative_to(PROJECT).as_posix() for f in files if not _covered(f, deps)]
    assert not missing, f"{stage}: dvc.yaml misses deps on {missing}"


def test_the_check_sees_imports_inside_functions(graph):
    """The registry reaches the families only through function-level imports and names: both are followed."""
    found = _closure(graph, {"ocrops.stages.train"})
    assert {"ocrops.models.ppocr.model", "ocrops.training.trainer", "ocrops.config", "ocrops.data.lines"} <= found
    rendering = _closure(graph, {"ocrops.stages.general"})  # reads params, which import no family
    assert "ocrops.config" in rendering and not {"ocrops.families", "ocrops.models.ppocr"} & rendering
