"""The README's workflow on a copy of the project: `dvc pull` from the in-repo remote, then `dvc repro validate` twice.

The whole pipeline (training included, ~15 minutes on 2 cores) runs under `make run`; the train and
evaluate stages are exercised on a small dataset by tests/integration/test_dvc_train.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import clone_project
from integration.test_dvc_validate import _dvc, _run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_project(tmp_path_factory.mktemp("clone") / "ocrops")


def test_pull_then_repro_reproduces_committed_metrics_and_is_idempotent(clone: Path):
    assert not (clone / "data").exists()
    assert not (clone / "pages").exists()
    _dvc("pull", "data.dvc", "pages.dvc", "guard.dvc", cwd=clone)
    assert len(list((clone / "data" / "images").iterdir())) >= 1500
    committed = json.loads((clone / "reports" / "validation.json").read_text(encoding="utf-8"))

    first = _dvc("repro", "validate", cwd=clone)
    assert "Running stage 'validate'" in first.stdout
    figures = json.loads((clone / "reports" / "validation.json").read_text(encoding="utf-8"))
    assert figures == committed  # deterministic: the same data gives the same report
    assert figures["passed"] and figures["rows"] >= 1500
    assert min(figures["splits"].values()) >= 100

    second = _dvc("repro", "validate", cwd=clone)
    assert "Running stage" not in second.stdout and "up to date" in second.stdout
    status = _run(["git", "status", "--porcelain"], clone).stdout
    assert status.strip() == "", status  # nothing tracked changed
