"""A tracking server that goes away mid-training: no metric is lost, and a dead server fails fast."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mlflow_server import MlflowServer
from ocrops.config import Params
from ocrops.errors import OcropsError
from ocrops.tracking import setup
from ocrops.training.run import TrainingRun
from ocrops.training.trainer import EpochLog
from reliability_report import record

pytestmark = pytest.mark.integration


@pytest.fixture
def fast_retries(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)


def test_metrics_logged_while_the_server_is_down_arrive_when_it_is_back(tmp_path: Path, fast_retries):
    server = MlflowServer(tmp_path / "store").start()
    params = Params.model_validate({"mlflow": {"tracking_uri": server.uri}})
    id_file = tmp_path / "ckpt" / "mlflow_run_id"
    try:
        with TrainingRun(params, id_file) as run:
            run.log_epoch(EpochLog(0, 1.0, 0.30, 0.1, 1e-4, 5.0))
            server.stop()
            run.log_epoch(EpochLog(1, 0.8, 0.20, 0.2, 1e-4, 5.0))  # must not raise: spooled
            assert run.spool.exists()
            spooled = [json.loads(x) for x in run.spool.read_text().splitlines()]
            assert {r["key"] for r in spooled} >= {"val_cer", "train_loss"} and {r["step"] for r in spooled} == {2}
            server.start()
            run.log_epoch(EpochLog(2, 0.6, 0.10, 0.3, 1e-4, 5.0))  # flushes the spool first
        client = MlflowClient(tracking_uri=server.uri)
        history = client.get_metric_history(run.run.info.run_id, "val_cer")
        record("mlflow_outage", faults_injected=1, epochs_logged=3, epochs_logged_while_down=1,
               epochs_arrived=len(history), lost_records=3 - len(history))
        assert sorted((m.step, m.value) for m in history) == [(1, 0.30), (2, 0.20), (3, 0.10)]
        assert not run.spool.exists()
    finally:
        server.stop()


def test_a_dead_server_fails_the_stage_fast_naming_the_uri(tmp_path: Path, fast_retries):
    from mlflow_server import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(OcropsError) as info:
        setup(Params.model_validate({"mlflow": {"tracking_uri": uri, "timeout_s": 3}}))
    assert uri in str(info.value) and info.value.code == 5002
    assert time.monotonic() - started < 30  # not MLflow's minutes of back-off
