"""The README's "Bring your own data", word for word, on a fresh copy of the project: import a folder of
.png + .gt.txt pairs, point params.yaml at it, take the sample out, version it with DVC, run the pipeline. Then
DVC follows the user's data: an edited label makes `validate` stale, and the sample is gone from `dvc repro`.

The README's last command, `dvc repro`, runs here as `dvc repro validate` (the stages after it are run on a
small dataset by tests/integration/test_dvc_train.py); `dvc status` proves the later stages read mydata/ too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, clone_project, line_image

pytestmark = pytest.mark.e2e


def _readme_block(after: str, page: str = "README.md") -> list[str]:
    """The commands of the first ```bash block after the sentence ``after`` in the README (or another page)."""
    readme = (PROJECT / page).read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme[readme.index(after):], re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_tutorial_says_what_the_readme_says():
    for sentence in ("Importers build this layout from what you have", "Then point the pipeline at it and version it"):
        assert _readme_block(sentence, "docs/tutorials/bring-your-data.md") == _readme_block(sentence)


def _sh(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(["bash", "-ec", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = clone_project(tmp_path_factory.mktemp("byo") / "ocrops")
    # the sample pages and the guard set, as `make run` left them (the line data is replaced)
    _sh("dvc pull -q pages.dvc guard.dvc", root)
    scans = root / "scans"
    scans.mkdir()
    for i in range(40):  # a team's labeled lines, as ground-truth pairs
        line_image(f"Glucose {i}.{i % 10} mmol/L").save(scans / f"{i:03d}.png")
        (scans / f"{i:03d}.gt.txt").write_text(f"血糖 Glucose {i}.{i % 10} mmol/L", encoding="utf-8")
    return root


def test_bring_your_own_data_as_the_readme_says(project: Path):
    importing = _readme_block("Importers build this layout from what you have")[0]
    assert importing.split("#")[0].split() == ["ocrops", "data", "import", "scans/", "--out", "mydata"]
    _sh(importing, project)
    assert (project / "mydata" / "labels.jsonl").exists()

    steps = _readme_block("Then point the pipeline at it and version it")
    assert steps[-1] == "dvc repro"
    for step in steps[:-1]:
        _sh(step, project)
    assert "  path: mydata " in (project / "params.yaml").read_text(encoding="utf-8")
    staged = _sh("git status --porcelain", project).stdout
    assert "A  mydata.dvc" in staged and "D  data.dvc" in staged and "M  .gitignore" in staged, staged
    assert "?? mydata" not in staged  # DVC tracks the data; git ignores it

    run = _sh("dvc repro validate", project)
    assert "Running stage 'validate'" in run.stdout and "'data.dvc'" not in run.stdout + run.stderr
    figures = json.loads((project / "reports" / "validation.json").read_text(encoding="utf-8"))
    assert figures["passed"] and figures["rows"] == 40
    status = _sh("dvc status", project).stdout
    for stage in ("train", "evaluate", "register"):  # the rest of the pipeline reads mydata/ as well
        assert f"{stage}:" in status
    assert "validate:" not in status

    labels = project / "mydata" / "labels.jsonl"
    rows = labels.read_text(encoding="utf-8").splitlines()
    first = json.loads(rows[0]) | {"text": "血糖 Glucose 0.1 mmol/L (corrected)"}
    labels.write_text("\n".join([json.dumps(first, ensure_ascii=False), *rows[1:]]) + "\n", encoding="utf-8")
    after_edit = _sh("dvc status validate", project).stdout
    assert "validate:" in after_edit and "mydata" in after_edit
