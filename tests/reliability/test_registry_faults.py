"""The registry when the artifact store fails: disk full (the register process limited with RLIMIT_FSIZE, so
its writes fail as on a full disk) and a read-only artifact folder (an unprivileged process; root ignores file
modes). Expected: a clear error naming the store, no new version, the registry intact, the next attempt fine."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import PROJECT, line_image
from reliability_report import record

pytestmark = pytest.mark.integration

WORKER = PROJECT / "tests" / "reliability" / "register_worker.py"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, Path]:
    from ocrops.models import pretrained

    root = tmp_path_factory.mktemp("model")
    pretrained("ppocr-v4").save(root / "model")
    line_image("Glucose 5.4 mmol/L", (320, 40)).save(root / "line.png")
    return root / "model", root / "line.png"


def run_register(store: Path, model: tuple[Path, Path], preexec=None) -> subprocess.CompletedProcess:
    env = os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}", "HOME": str(store / "home")}
    return subprocess.run([sys.executable, str(WORKER), str(store), *map(str, model)], capture_output=True,
                          text=True, env=env, preexec_fn=preexec, timeout=300)


def registry_state(store: Path) -> dict:
    """Versions, aliases, each version's files (with checksums) and the database's own integrity check."""
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    versions = sorted(client.search_model_versions("name='ocrops'"), key=lambda v: int(v.version))
    files = {}
    for path in sorted((store / "artifacts").rglob("*")):
        if path.is_file() and "models" in path.parts:
            files[str(path.relative_to(store))] = hashlib.sha256(path.read_bytes()).hexdigest()
    with sqlite3.connect(store / "mlflow.db") as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return {"versions": [str(v.version) for v in versions], "aliases": client.get_registered_model("ocrops").aliases,
            "files": files, "integrity": integrity, "running_runs": [r.info.run_id for r in runs
                                                                      if r.info.status == "RUNNING"]}


def first_version(tmp_path: Path, model) -> Path:
    store = tmp_path / "store"
    (store / "home").mkdir(parents=True)
    first = run_register(store, model)
    assert first.returncode == 0, first.stderr[-2000:]
    return store


def test_a_full_disk_fails_register_clearly_and_corrupts_nothing(tmp_path: Path, model):
    store = first_version(tmp_path, model)
    before = registry_state(store)
    # the database keeps room to grow; the model's 10 MB of weights do not fit
    limit = (store / "mlflow.db").stat().st_size + 2 * 2**20

    def full_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    failed = run_register(store, model, full_disk)
    after = registry_state(store)
    retry = run_register(store, model)
    record("disk_full", faults_injected=1, exit_code=failed.returncode,
           message=failed.stderr.strip().splitlines()[-1],
           versions_before=before["versions"], versions_after=after["versions"],
           corrupted_records=int(after["files"] != before["files"] or after["integrity"] != "ok"),
           lost_records=int(before["versions"] != after["versions"][: len(before["versions"])]))
    assert failed.returncode == 1, failed.stderr[-2000:]  # 1: a clear error, not a crash
    assert "cannot store the model in file://" in failed.stderr and "File too large" in failed.stderr
    assert "nothing was registered" in failed.stderr
    assert after["versions"] == before["versions"] == ["1"] and after["aliases"] == before["aliases"]
    assert after["files"] == before["files"] and after["integrity"] == "ok" and not after["running_runs"]
    assert retry.returncode == 0 and json.loads(retry.stdout)["version"] == "2"


@contextmanager
def read_only(folder: Path):
    """``folder`` read-only for the register process: a read-only bind mount for root (which writes through any
    file mode), file modes otherwise."""
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"root here cannot make a read-only bind mount: {mounted.stderr.strip()}")
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
            yield
        finally:
            subprocess.run(["umount", str(folder)], check=True)
        return
    paths = [folder, *folder.rglob("*")]
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_a_read_only_artifact_folder_fails_register_clearly(tmp_path: Path, model):
    store = first_version(tmp_path, model)
    before = registry_state(store)
    with read_only(store / "artifacts"):
        failed = run_register(store, model)
    after = registry_state(store)
    retry = run_register(store, model)
    record("read_only_artifacts", faults_injected=1, exit_code=failed.returncode,
           message=failed.stderr.strip().splitlines()[-1], versions_before=before["versions"],
           versions_after=after["versions"],
           corrupted_records=int(after["files"] != before["files"] or after["integrity"] != "ok"))
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "cannot store the model in file://" in failed.stderr and "Read-only file system" in failed.stderr
    assert after["versions"] == ["1"] and after["aliases"] == before["aliases"]
    assert after["files"] == before["files"] and after["integrity"] == "ok" and not after["running_runs"]
    assert retry.returncode == 0 and json.loads(retry.stdout)["version"] == "2"
