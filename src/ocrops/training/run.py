"""The MLflow run of a training: opened once, re-opened by a resumed training, never losing a metric."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import pandas as pd
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from ocrops.config import Params, flatten
from ocrops.data.files import read_jsonl
from ocrops.errors import ErrorCode, OcropsError
from ocrops.tracking import dvc_digest, git_commit, setup

if TYPE_CHECKING:
    from ocrops.training.trainer import EpochLog


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
        records = read_jsonl(self.spool)
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
        rows = read_jsonl(accepted)
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
