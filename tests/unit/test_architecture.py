"""The layering of docs/architecture.md is enforced: `lint-imports` (in `make lint`) passes on the tree and
fails on a planted violation, naming the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT

LINT = str(Path(sys.executable).parent / "lint-imports")


def _lint(src: Path, config: Path) -> subprocess.CompletedProcess:
    # import-linter finds the package on sys.path: this copy comes first
    env = dict(os.environ, PYTHONPATH=str(src))
    return subprocess.run([LINT, "--config", str(config), "--no-cache"], cwd=config.parent, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    shutil.copytree(PROJECT / "src" / "ocrops", src / "ocrops", ignore=shutil.ignore_patterns("__pycache__"))
    config = tmp_path / "pyproject.toml"
    shutil.copy2(PROJECT / "pyproject.toml", config)
    return src, config


def test_the_tree_keeps_its_layers(tree):
    result = _lint(*tree)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "needle"), [
    ("data/planted.py", "from ocrops.serving import api", "ocrops.data is not allowed to import ocrops.serving"),
    ("inference/planted.py", "def f():\n    from ocrops.stages import train", "ocrops.inference is not allowed"),
    ("serving/planted.py", "import ocrops.harness.server", "ocrops.serving is not allowed to import ocrops.harness"),
    ("models/ppocr/planted.py", "from ocrops.models.glm_ocr import settings", "ocrops.models.glm_ocr"),
])
def test_a_planted_violation_fails_the_check(tree, module, line, needle):
    src, config = tree
    (src / "ocrops" / module).write_text(line + "\n", encoding="utf-8")
    result = _lint(src, config)
    assert result.returncode != 0
    assert needle in result.stdout, result.stdout[-3000:]
