"""`ocrops ui` serves the MLflow UI on the project's store, and stops with it when told to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import yaml

from conftest import PROJECT
from mlflow_server import free_port

pytestmark = pytest.mark.integration


def test_ocrops_ui_serves_the_projects_store(tmp_path: Path):
    params = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ocrops"), "ui", "--port", str(port)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, page = time.monotonic() + 90, None
        while time.monotonic() < deadline and page is None:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    page = answer.read().decode(errors="replace")
            except OSError:
                time.sleep(0.5)
        assert page is not None and "<title>MLflow</title>" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10",
                                    timeout=10) as answer:
            assert answer.status == 200
        assert (tmp_path / "mlruns" / "mlflow.db").exists()  # the store of params.yaml, created on first use
        # a process manager (or `timeout`) stops `ocrops ui` with SIGTERM to it alone: the MLflow server it
        # started must go with it, and its port with it
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline, left = time.monotonic() + 30, ["?"]
        while left and time.monotonic() < deadline:  # MLflow's job runner stops its consumers in a few seconds
            time.sleep(0.5)
            left = [p.pid for p in psutil.process_iter() if _sid(p.pid) == proc.pid]
        assert not left, [psutil.Process(pid).as_dict(["name", "status"]) for pid in left if psutil.pid_exists(pid)]
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "the MLflow server is still listening"
    finally:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None
