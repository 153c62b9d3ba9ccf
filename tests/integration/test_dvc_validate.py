"""The real `dvc repro` of the validate stage in a temporary git repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT, line_image, truncated_png, write_dataset, write_pages

pytestmark = pytest.mark.integration


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `python` = this venv
    return env


def _run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return _run([str(Path(sys.executable).parent / "dvc"), *args], cwd, check)


def _resolved(entry: str, params: dict) -> str:
    """A dvc.yaml path with its ${...} taken from params.yaml, as dvc resolves it."""

    def value(match: re.Match) -> str:
        found: object = params
        for part in match[1].split("."):
            found = found[part]
        return str(found)

    return re.sub(r"\$\{([^}]+)\}", value, entry)


def _outputs(stages: dict, params: dict) -> set[str]:
    return {_resolved(next(iter(o)) if isinstance(o, dict) else o, params) for stage in stages.values()
            for kind in ("outs", "metrics", "plots") for o in stage.get(kind, [])}


def copy_stages(root: Path, names: list[str], params_update: dict | None = None) -> None:
    """Copy the named dvc.yaml stages, the code and recipes they depend on, and params.yaml into ``root``."""
    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    project_params = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    made = _outputs(stages, project_params)
    for name in names:
        for dep in (_resolved(d, project_params) for d in stages[name]["deps"]):
            source = PROJECT / dep
            # the data and other stages' outputs are made in the test repository, never copied
            data = {project_params["data"][k] for k in ("path", "pages", "guard")}
            if dep in data or dep.startswith("data/") or dep in made or (root / dep).exists():
                continue
            if source.is_dir():
                shutil.copytree(source, root / dep, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                (root / dep).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, root / dep)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {n: stages[n] for n in names}}, sort_keys=False))
    params = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    for section, values in (params_update or {}).items():
        params[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    if any("${data.guard}" in stages[n]["deps"] for n in names) and not (root / "guard").exists():
        write_guard(root / "guard")
    if "general" in names:
        # 60 general lines, not 400: every evaluate stage reads the test ones with two models
        recipe = root / "recipes" / "general.yaml"
        spec = yaml.safe_load(recipe.read_text(encoding="utf-8"))
        recipe.write_text(yaml.safe_dump(spec | {"count": GENERAL_LINES}, allow_unicode=True), encoding="utf-8")


GENERAL_LINES = 60
# general printed English, as the real guard set holds it; each image shows exactly its text
GUARD_TEXTS = ["The meeting was held on Monday.", "Please return the signed form.", "Total amount due: 42.50",
               "Results are shown in Table 3.", "Dear Sir, thank you for your letter.", "Room 12, second floor"]


def write_guard(root: Path) -> Path:
    """The guard set every pipeline carries: six rendered general lines, half held out."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(GUARD_TEXTS):
        line_image(text, size=(11 * len(text) + 16, 36)).save(root / "images" / f"g{i}.png")
        rows.append(json.dumps({"image": f"images/g{i}.png", "text": text, "split": ("train", "test")[i % 2]}))
    (root / "labels.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def init_repo(root: Path) -> None:
    (root / ".gitignore").write_text("/outputs/\n/mlruns/\n")
    _run(["git", "init", "-q"], root)
    _dvc("init", "-q", cwd=root)
    _dvc("config", "core.analytics", "false", cwd=root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "init"], root)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    copy_stages(root, ["validate"], {"validate": {"max_rejected_share": 0.5}})
    splits = ["train"] * 6 + ["val"] * 2 + ["test"] * 2
    write_dataset(root / "data", [(f"{i:03d}.png", f"肌酐 {i}0 μmol/L", s) for i, s in enumerate(splits)])
    write_pages(root / "pages", ["train", "val", "test"])
    init_repo(root)
    return root


def _quarantined(root: Path) -> dict[int, str]:
    lines = (root / "reports" / "quarantine.jsonl").read_text(encoding="utf-8").splitlines()
    return {q["line"]: q["reason"] for q in map(json.loads, lines)}


def test_repro_validates_then_quarantines_exactly_the_corrupted_rows(repo: Path):
    first = _dvc("repro", cwd=repo)
    assert "Running stage 'validate'" in first.stdout
    figures = json.loads((repo / "reports" / "validation.json").read_text(encoding="utf-8"))
    assert figures["accepted"] == 10 and figures["rejected"] == 0 and figures["passed"]
    assert _quarantined(repo) == {}

    again = _dvc("repro", cwd=repo)
    assert "Running stage" not in again.stdout and "up to date" in again.stdout

    # Corrupt a copy: truncate one image, blank another, delete a third.
    images = repo / "data" / "images"
    (images / "002.png").write_bytes(truncated_png())
    (images / "005.png").write_bytes(b"")
    (images / "008.png").unlink()
    _dvc("repro", cwd=repo)
    assert _quarantined(repo) == {3: "image_unreadable", 6: "image_unreadable", 9: "image_missing"}
    accepted = (repo / "outputs" / "validate" / "accepted.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(a)["line"] for a in accepted] == [1, 2, 4, 5, 7, 8, 10]
    metrics = json.loads(_dvc("metrics", "show", "--json", cwd=repo).stdout)
    assert metrics[""]["data"]["reports/metrics/validate.json"]["data"] == {"rows_accepted": 7, "rows_quarantined": 3}


def test_repro_fails_on_leakage_with_the_rows_named(repo: Path):
    data = repo / "data"
    shutil.copy(data / "images" / "000.png", data / "images" / "leak.png")
    with (data / "labels.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"image": "images/leak.png", "text": "x", "split": "test"}) + "\n")
    result = _dvc("repro", cwd=repo, check=False)
    assert result.returncode != 0
    assert "split_leakage" in result.stderr and "line 11" in result.stderr
    assert "Traceback" not in result.stderr
