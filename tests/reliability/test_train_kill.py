"""SIGKILL a real training process mid-epoch: the rerun resumes from its last checkpoint and ends the same."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT
from ocrops.data.synth import load_recipe, synthesize
from reliability_report import record

pytestmark = pytest.mark.integration
WORKER = PROJECT / "tests" / "train_worker.py"


def _start(data: Path, ckpt: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), str(data), str(ckpt), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_killed_training_resumes_and_matches_uninterrupted(tmp_path: Path):
    data = tmp_path / "data"
    synthesize(load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(update={"count": 16, "seed": 9}),
               data, progress=False)

    straight = _start(data, tmp_path / "a", tmp_path / "a")
    assert straight.wait(timeout=600) == 0, straight.stderr.read()

    victim = _start(data, tmp_path / "b", tmp_path / "b")
    deadline = time.monotonic() + 300
    while not (tmp_path / "b" / "last" / "state.pt").exists():  # first epoch finished and checkpointed
        assert victim.poll() is None and time.monotonic() < deadline, "worker ended before its first checkpoint"
        time.sleep(0.05)
    time.sleep(0.3)  # into the second (last) epoch
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "b0.json").exists()

    rerun = _start(data, tmp_path / "b", tmp_path / "b")
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
    a = json.loads((tmp_path / "a0.json").read_text())
    b = json.loads((tmp_path / "b0.json").read_text())
    same_losses = [round(h["train_loss"], 5) for h in b["history"]] == [round(h["train_loss"], 5) for h in a["history"]]
    record("train_kill", faults_injected=1, resumed_from_epoch=b["resumed_from_epoch"], same_losses=same_losses,
           weight_sum_relative_difference=abs(b["weight_sum"] - a["weight_sum"]) / abs(a["weight_sum"]),
           epochs=len(b["history"]), lost_records=0 if len(b["history"]) == len(a["history"]) else 1)
    assert b["resumed_from_epoch"] is not None and a["resumed_from_epoch"] is None
    assert [round(h["train_loss"], 5) for h in b["history"]] == [round(h["train_loss"], 5) for h in a["history"]]
    assert b["weight_sum"] == pytest.approx(a["weight_sum"], rel=1e-6)
