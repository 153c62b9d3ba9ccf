"""Training is reproducible bit for bit across machines of one kind: the train stage, on the sample data's first
64 training and 16 validation lines for one epoch, writes a model whose files hash to the value committed in
tests/e2e/reproducible_training.json (recorded on another machine, with its conditions). Same data + params +
code + lock -> same model; the stage pins its CPU kernels and threads (ocrops.env.pin_kernels) to make it so.

To re-record after a change that legitimately changes the model: OCROPS_RECORD_TRAINING=1 pytest this file.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT, clone_project

pytestmark = pytest.mark.e2e

EXPECTED = Path(__file__).with_name("reproducible_training.json")
TRAIN, VAL = 64, 16


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _model_digest(model: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(model.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[dict, dict]:
    root = clone_project(tmp_path_factory.mktemp("repro") / "ocrops")
    bin_dir = Path(sys.executable).parent
    _run([str(bin_dir / "dvc"), "pull", "-q", "data.dvc"], root)
    rows = [json.loads(x) for x in (root / "data" / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [r for r in rows if r["split"] == "train"][:TRAIN] + [r for r in rows if r["split"] == "val"][:VAL]
    accepted = root / "small" / "accepted.jsonl"
    accepted.parent.mkdir()
    accepted.write_text("".join(json.dumps({
        **r, "path": f"data/{r['image']}",
        "sha256": hashlib.sha256((root / "data" / r["image"]).read_bytes()).hexdigest()}, ensure_ascii=False) + "\n"
        for r in chosen), encoding="utf-8")
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["train"].update({"epochs": 1, "general_ratio": 0.0})
    params["paths"]["validate"]["accepted"] = "small/accepted.jsonl"
    params["mlflow"]["tracking_uri"] = f"sqlite:///{root}/mlruns/mlflow.db"
    (root / "small" / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "OMP_NUM_THREADS")}
    _run([str(bin_dir / "ocrops"), "stage", "train", "--params", "small/params.yaml"], root, env)
    report = json.loads((root / "reports" / "train.json").read_text(encoding="utf-8"))
    return _model_digest(root / "outputs" / "train" / "model"), report


def test_the_train_stage_reproduces_the_committed_model(trained):
    digest, report = trained
    numerics = report["numerics"]
    assert numerics["cpu_capability"] == "AVX2" and numerics["threads"] == 2
    assert numerics["lock_sha256"] == hashlib.sha256((PROJECT / "requirements-dev.lock").read_bytes()).hexdigest()
    if os.environ.get("OCROPS_RECORD_TRAINING"):
        EXPECTED.write_text(json.dumps({"model_files_md5": digest, "recorded_with": numerics}, indent=2) + "\n",
                            encoding="utf-8")
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    assert digest == expected["model_files_md5"], (
        f"this machine ({cpu}, {os.cpu_count()} cores) trained another model than the one recorded with "
        f"{expected['recorded_with']}: {digest}")
