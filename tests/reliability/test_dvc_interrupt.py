"""`dvc repro` killed mid-training (SIGKILL to the whole process group: a crash, an OOM kill, a lost machine) and
run again: the train stage resumes from the checkpoint it persisted, the rerun ends with the metrics of an
uninterrupted run, and DVC's state is consistent (nothing left to run, the lock matches the outputs)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT, write_pages
from integration.test_dvc_validate import _env, copy_stages, init_repo
from ocrops.config import SplitRatios
from ocrops.data.synth import load_recipe, synthesize
from reliability_report import LONG, record

# two trainings and a DVC repro killed between them: over two minutes of a worker, the long run's
# (make reliability); make test keeps the trainer's own kill-and-resume (tests/reliability/test_train_kill.py)
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not LONG, reason="make reliability (OCROPS_RELIABILITY=long): a DVC repro killed "
                                                  "mid-training and rerun takes over two minutes")]

STAGES = ["validate", "general", "train"]
TRAIN = {"epochs": 2, "batch_size": 8, "augment": 0.0, "general_ratio": 0.2, "patience": 5}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("interrupt") / "template"
    root.mkdir()
    copy_stages(root, STAGES, {"train": TRAIN})
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(
        update={"count": 40, "seed": 5, "split": SplitRatios(train=0.6, val=0.2, test=0.2)})
    synthesize(recipe, root / "data", progress=False)
    write_pages(root / "pages", ["train", "val", "test"])
    init_repo(root)
    return root


def clone(template: Path, name: str) -> Path:
    root = template.parent / name
    shutil.copytree(template, root, symlinks=True)
    return root


def dvc_env(repo: Path) -> dict[str, str]:
    """Each repository's own MLflow store, whatever an earlier test left in this process's environment."""
    return _env() | {"MLFLOW_TRACKING_URI": f"sqlite:///{repo}/mlruns/mlflow.db"}


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(Path(sys.executable).parent / "dvc"), *args], cwd=repo, env=dvc_env(repo),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def lines(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_an_interrupted_repro_reruns_to_the_same_results(template: Path):
    straight = clone(template, "straight")
    started = time.monotonic()
    dvc(straight, "repro", "train")
    straight_s = time.monotonic() - started

    crashed = clone(template, "crashed")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "dvc"), "repro", "train"], cwd=crashed,
                            env=dvc_env(crashed),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    checkpoints = crashed / "outputs" / "train" / "checkpoints"
    deadline = time.monotonic() + 600
    while not list(checkpoints.glob("*/last/state.pt")):  # the first of two epochs is done and saved
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.1)
    time.sleep(0.5)  # into the second epoch
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (crashed / "reports" / "train.json").exists()  # the stage never finished

    rerun = dvc(crashed, "repro", "train")
    status = dvc(crashed, "status")
    a = json.loads((straight / "reports" / "train.json").read_text())
    b = json.loads((crashed / "reports" / "train.json").read_text())
    history_a = lines(straight / "reports" / "plots" / "train_history.json")
    history_b = lines(crashed / "reports" / "plots" / "train_history.json")
    same = (a["val_cer"] == b["val_cer"] and a["best_epoch"] == b["best_epoch"]
            and [round(h["train_loss"], 5) for h in history_a] == [round(h["train_loss"], 5) for h in history_b])
    record("dvc_repro_interrupt", faults_injected=1, uninterrupted_s=round(straight_s, 1),
           same_metrics=same, val_cer=b["val_cer"], epochs=b["epochs_run"],
           up_to_date_after_rerun="up to date" in status.stdout, lost_records=0 if same else 1)
    output = rerun.stdout + rerun.stderr
    # the rerun trained only the second epoch: it resumed from the checkpoint the killed run left
    assert "Running stage 'train'" in output and "epoch 2" in output and "epoch 1:" not in output, output[-2000:]
    assert "up to date" in status.stdout, status.stdout
    assert same, (a, b, history_a, history_b)
