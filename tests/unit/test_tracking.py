"""Training runs in a real MLflow sqlite store."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from ocrops.config import Params, flatten
from ocrops.errors import OcropsError
from ocrops.training.run import TrainingRun
from ocrops.training.trainer import EpochLog


@pytest.fixture
def params(tmp_path: Path, monkeypatch) -> Params:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return Params.model_validate({"mlflow": {"tracking_uri": f"sqlite:///{tmp_path}/store/mlflow.db",
                                             "artifact_root": str(tmp_path / "artifacts")}})


def _accepted(tmp_path: Path) -> Path:
    path = tmp_path / "accepted.jsonl"
    rows = [{"image": f"images/{i}.png", "path": f"data/images/{i}.png", "text": f"t{i}", "split": "train",
             "sha256": f"{i:064d}"} for i in range(3)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_run_records_params_dataset_epochs_and_resumes(params: Params, tmp_path: Path):
    (tmp_path / "data.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  path: data\n")
    id_file = tmp_path / "ckpt" / "mlflow_run_id"
    with TrainingRun(params, id_file) as run:
        run.log_setup(_accepted(tmp_path), "data", "ppocr")
        run.log_epoch(EpochLog(0, 1.5, 0.2, 0.5, 1e-4, 7.0))
    with TrainingRun(params, id_file) as resumed:  # same run continues after a crash
        resumed.log_setup(_accepted(tmp_path), "data", "ppocr")
        resumed.log_epoch(EpochLog(1, 0.5, 0.1, 0.7, 5e-5, 7.5))
    assert resumed.run.info.run_id == run.run.info.run_id
    client = MlflowClient(tracking_uri=params.mlflow.tracking_uri)
    logged = client.get_run(run.run.info.run_id)
    assert logged.data.params["train.lr"] == str(params.train.lr)
    assert logged.data.tags["ocrops.data.dvc_md5"].startswith("0123456789abcdef")
    assert [m.value for m in client.get_metric_history(logged.info.run_id, "val_cer")] == [0.2, 0.1]
    assert logged.inputs.dataset_inputs[0].dataset.name == "data"
    assert logged.info.status == "FINISHED"
    assert mlflow.get_experiment_by_name("ocrops").artifact_location.startswith("file://")


def test_unusable_store_fails_fast_with_the_uri(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(OcropsError) as info:
        with TrainingRun(Params(), tmp_path / "id"):
            pass
    assert "127.0.0.1:1" in str(info.value)


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}


def test_training_can_continue_from_a_registered_alias(params: Params, tmp_path: Path):
    from PIL import Image

    from conftest import line_image
    from ocrops.models import pretrained
    from ocrops.tracking import setup
    from ocrops.training.base import resolve_base

    setup(params)
    model = pretrained("ppocr-v4")
    model.extend_vocabulary(["⁹"])
    model.save(tmp_path / "saved")
    client = MlflowClient()
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "saved"), artifact_path="model")
        source = mlflow.get_artifact_uri("model")
    client.create_registered_model("ocrops-test")
    version = client.create_model_version("ocrops-test", source=source, run_id=run.info.run_id)
    client.set_registered_model_alias("ocrops-test", "candidate", version.version)
    client.set_model_version_tag("ocrops-test", version.version, "family", "ppocr")

    def based_on(uri: str) -> Params:
        return params.model_copy(update={"train": params.train.model_copy(update={"base": uri})})

    base = resolve_base(based_on("models:/ocrops-test@candidate"))
    assert (base.family.name, base.source) == ("ppocr", "registry")  # from the model it holds (family.txt)
    loaded = base.load()
    assert loaded.charset[-1] == "⁹"
    images: list[Image.Image] = [line_image("肌酐 88 μmol/L")]
    assert loaded.predict(images) == model.predict(images)
    with pytest.raises(OcropsError, match="models:/ocrops-test@champion"):
        resolve_base(based_on("models:/ocrops-test@champion"))
