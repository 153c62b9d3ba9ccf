"""The README's workflow on a copy of the project: `dvc pull` from the in-repo remote, then `dvc repro validate` twice.

The whole pipeline (training included, ~15 minutes on 2 cores) runs under `make run`; the train and
evaluate stages are exercised on a small dataset by tests/integration/test_dvc_train.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PROJECT
from integration.test_dvc_validate import _dvc, _run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clone") / "ocrops"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for name in files:
        if (PROJECT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, root / name)
    _run(["git", "init", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "clone"], root)
    return root


def test_pull_then_repro_reproduces_committed_metrics_and_is_idempotent(clone: Path):
    assert not (clone / "data").exists()
    _dvc("pull", "data.dvc", cwd=clone)
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
