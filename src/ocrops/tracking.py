"""MLflow tracking: one run per training, params, dataset lineage, per-epoch metrics, artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import pandas as pd
import yaml
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from ocrops.config import Params, flatten
from ocrops.errors import ErrorCode, OcropsError
from ocrops.family import FAMILY_FILE

if TYPE_CHECKING:
    from ocrops.adapter import EpochLog


def tracking_uri(params: Params) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or params.mlflow.tracking_uri


def check_reachable(uri: str, timeout_s: float) -> None:
    """Fail fast, naming the URI, when a tracking server does not answer; MLflow's own client would retry
    with back-off for minutes. Also bounds MLflow's retries for the rest of the process (unless set)."""
    if not uri.startswith(("http://", "https://")):
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(timeout_s, 1))))
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s) as answer:
            answer.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise OcropsError(ErrorCode.UNAVAILABLE,
                          f"MLflow tracking server {uri} is unreachable ({exc}); start it, or point "
                          "MLFLOW_TRACKING_URI / params mlflow.tracking_uri at a reachable store") from exc


def setup(params: Params) -> str:
    """Point MLflow at the project's store and experiment; returns the experiment id."""
    uri = tracking_uri(params)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    check_reachable(uri, params.mlflow.timeout_s)
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.get_experiment_by_name(params.mlflow.experiment)
        if experiment is not None:
            return experiment.experiment_id
        root = Path(params.mlflow.artifact_root).resolve() / params.mlflow.experiment
        return mlflow.create_experiment(params.mlflow.experiment, artifact_location=root.as_uri())
    except Exception as exc:  # any failure to reach or open the store: say which store, stop early
        raise OcropsError(ErrorCode.UNAVAILABLE, f"MLflow tracking store {uri} is not usable: {exc}") from exc


def download_registered(uri: str, dst: str | Path | None = None) -> Path:
    """Fetch ``models:/NAME@alias`` (or ``models:/NAME/VERSION``); returns the ocrops model folder inside it."""
    import tempfile

    target = Path(dst or tempfile.mkdtemp(prefix="ocrops-registered-"))
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target)))
    except Exception as exc:  # unknown name/alias, unreachable store
        raise OcropsError(ErrorCode.UNAVAILABLE,
                          f"cannot fetch {uri} from the MLflow registry at {mlflow.get_tracking_uri()}: {exc}") from exc
    marker = next(iter(sorted(local.rglob(FAMILY_FILE))), None)
    if marker is None:
        raise OcropsError(ErrorCode.UNAVAILABLE, f"{uri} holds no ocrops model (no {FAMILY_FILE} in its artifacts)")
    return marker.parent


def registered_version(uri: str):
    """The MLflow ModelVersion a ``models:/NAME@alias`` or ``models:/NAME/VERSION`` URI names."""
    name, _, rest = uri.removeprefix("models:/").partition("/")
    client = MlflowClient()
    try:
        if "@" in name:
            name, alias = name.split("@", 1)
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, rest)
    except Exception as exc:  # unknown name/alias/version, unreachable store
        raise OcropsError(ErrorCode.UNAVAILABLE,
                          f"cannot find {uri} in the MLflow registry at {mlflow.get_tracking_uri()}: {exc}") from exc


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def dvc_digest(dvc_file: str | Path = "data.dvc") -> str | None:
    """The md5 DVC recorded for a tracked dataset (its version)."""
    path = Path(dvc_file)
    if not path.exists():
        return None
    outs = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("outs") or [{}]
    return outs[0].get("md5")


def log_to_active_run(report: dict, prefix: str) -> bool:
    """Log a stage's numeric figures to the run ``mlflow run`` started (MLFLOW_RUN_ID); False outside one."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return False
    figures = {f"{prefix}.{k}": float(v) for k, v in flatten(report).items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    MlflowClient().log_batch(run_id, metrics=[Metric(k, v, int(time.time() * 1000), 0) for k, v in figures.items()])
    return True


class TrainingRun:
    """An MLflow run that a resumed training re-opens (its id is kept beside the checkpoints).

    Per-epoch metrics that cannot reach the tracking store (server gone mid-training) are spooled to a
    JSONL file beside the checkpoints and sent, with their original steps and timestamps, as soon as the
    store answers again: at the next epoch, at the end of the run, or when a rerun resumes it.
    """

    def __init__(self, params: Params, run_id_file: Path) -> None:
        self.params, self.run_id_file = params, run_id_file
        self.spool = run_id_file.with_name("mlflow_spool.jsonl")

    def __enter__(self) -> TrainingRun:
        experiment_id = setup(self.params)
        run_id = self.run_id_file.read_text().strip() if self.run_id_file.exists() else None
        self.run = mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id,
                                    run_name=None if run_id else "train")
        self.run_id_file.parent.mkdir(parents=True, exist_ok=True)
        self.run_id_file.write_text(self.run.info.run_id)
        self.flush()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.flush()
        try:
            mlflow.end_run(status="FAILED" if exc_type else "FINISHED")
        except Exception as end_exc:  # the store went away; a rerun resumes and finishes the run
            print(f"warning: MLflow run not closed ({end_exc}); rerun the stage once the store is back")
            if exc_type is None:
                raise OcropsError(ErrorCode.UNAVAILABLE,
                                  f"MLflow store {mlflow.get_tracking_uri()} went away: {end_exc}") from end_exc

    def flush(self) -> int:
        """Send spooled metrics; returns how many are still waiting."""
        if not self.spool.exists():
            return 0
        records = [json.loads(x) for x in self.spool.read_text(encoding="utf-8").splitlines() if x.strip()]
        try:
            MlflowClient().log_batch(self.run.info.run_id, metrics=[Metric(**r) for r in records])
        except Exception:  # still unreachable: keep them
            return len(records)
        self.spool.unlink()
        return 0

    def log_setup(self, accepted: Path, data_dir: str, family: str) -> None:
        if mlflow.get_run(self.run.info.run_id).data.params:
            return  # resumed: params and inputs are already there
        mlflow.log_params(flatten(self.params.model_dump(by_alias=True, mode="json", exclude={"paths"})))
        commit = git_commit()
        tags = {"ocrops.stage": "train", "ocrops.family": family}
        if commit:
            tags["mlflow.source.git.commit"] = commit
        digest = dvc_digest(f"{data_dir}.dvc")
        if digest:
            tags["ocrops.data.dvc_md5"] = digest
        mlflow.set_tags(tags)
        rows = [json.loads(x) for x in accepted.read_text(encoding="utf-8").splitlines() if x.strip()]
        frame = pd.DataFrame(rows)[["image", "text", "split", "sha256"]]
        dataset = mlflow.data.from_pandas(frame, source=data_dir, name=Path(data_dir).name,
                                          digest=(digest or "")[:32] or None)
        mlflow.log_input(dataset, context="training")

    def log_epoch(self, log: EpochLog) -> None:
        values = {"train_loss": log.train_loss, "val_cer": log.val_cer, "val_exact_match": log.val_exact_match,
                  "lr": log.lr, "train_lines_per_s": log.lines_per_s}
        now = int(time.time() * 1000)
        records = [{"key": k, "value": float(v), "timestamp": now, "step": log.epoch + 1} for k, v in values.items()]
        with self.spool.open("a", encoding="utf-8") as spool:  # written first: nothing is lost if the send fails
            spool.writelines(json.dumps(r) + "\n" for r in records)
        if waiting := self.flush():
            print(f"warning: MLflow store unreachable; {waiting} metric values kept in {self.spool} for later")

    def log_numerics(self, recorded: dict) -> None:
        """What decides the model's bits besides data, params and code, as tags (ocrops.numerics.*)."""
        flat = flatten(recorded, "ocrops.numerics.")
        mlflow.set_tags({k: json.dumps(v) if isinstance(v, list) else str(v) for k, v in flat.items()})

    def log_artifacts(self, preview: Path, model_dir: Path) -> None:
        mlflow.log_artifact(str(preview), artifact_path="train")
        mlflow.log_artifacts(str(model_dir), artifact_path="model")
