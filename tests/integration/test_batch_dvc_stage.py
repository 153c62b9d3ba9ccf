"""The optional dvc stage: no batch stage by default, one `batch@NAME` per entry of params' batch.jobs, running
`ocrops batch` from the archive DVC tracks to its Parquet output (as DVC itself reads dvc.yaml)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT

pytestmark = pytest.mark.integration


def dvc(root: Path, *args: str) -> str:
    result = subprocess.run([str(Path(sys.executable).parent / "dvc"), *args], cwd=root, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    dvc(tmp_path, "init", "-q")
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy2(PROJECT / name, tmp_path / name)
    return tmp_path


def test_no_batch_stage_by_default(project: Path):
    assert "batch" not in dvc(project, "stage", "list", "--name-only").split()


def test_one_stage_per_job_runs_ocrops_batch(project: Path):
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    params["batch"]["jobs"] = {"scans": {"input": "archive/scans", "output": "outputs/batch/scans"}}
    (project / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    assert "batch@scans" in dvc(project, "stage", "list", "--name-only").split()
    script = ("import json; from dvc.repo import Repo; s = Repo('.').stage.collect('batch@scans')[0]; "
              "print(json.dumps({'cmd': s.cmd, 'deps': [d.def_path for d in s.deps], "
              "'outs': [o.def_path for o in s.outs]}))")
    stage = json.loads(subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True,
                                      check=True, timeout=120).stdout)
    assert stage["cmd"] == "ocrops batch --job scans --restart"
    assert stage["deps"][:2] == ["archive/scans", "outputs/package/bento.json"]
    assert stage["outs"] == ["outputs/batch/scans"]
