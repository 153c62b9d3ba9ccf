"""Two training processes on the CPU launched by torchrun (DDP over gloo through accelerate): the multi-GPU code path.

On GPUs the same code runs under `accelerate launch --multi_gpu` or `torchrun` with NCCL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT
from ocrops.data.synth import load_recipe, synthesize

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_in_lockstep(tmp_path: Path):
    data = tmp_path / "data"
    synthesize(load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(update={"count": 16, "seed": 4}),
               data, progress=False)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
         "--master-port", str(_free_port()),
         str(PROJECT / "tests" / "train_worker.py"), str(data), str(tmp_path / "ckpt"), str(tmp_path / "rank")],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    assert ranks[0]["weight_sum"] == pytest.approx(ranks[1]["weight_sum"], rel=1e-9)  # gradients were averaged
    losses = [[h["train_loss"] for h in r["history"]] for r in ranks]
    assert losses[0] != losses[1]  # each rank saw its own share of the batches
    assert (tmp_path / "ckpt" / "last" / "state.pt").exists()
