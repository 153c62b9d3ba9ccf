"""MLflow tracking: the store and experiment, model-version references, lineage (git commit, DVC digest)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import yaml
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from ocrops.config import Params, flatten
from ocrops.errors import ErrorCode, OcropsError
from ocrops.families import FAMILY_FILE


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


@dataclass(frozen=True)
class VersionRef:
    """A registered model version as a user names it: by alias or by number."""

    name: str
    alias: str | None = None
    version: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else f"models:/{self.name}/{self.version}"

    def __str__(self) -> str:
        return self.uri


def parse_version_ref(text: str, name: str | None = None) -> VersionRef:
    """``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``NAME@ALIAS``, ``NAME/VERSION``; with ``name`` (the
    registered model) also ``@ALIAS``, ``ALIAS`` or ``VERSION``. A reference that is none of these is a 4002."""
    spec = text.strip().removeprefix("models:/")
    model, at, alias = spec.partition("@")
    if at:
        found = VersionRef(model or (name or ""), alias=alias)
    elif "/" in spec:
        model, _, number = spec.partition("/")
        found = VersionRef(model, version=number)
    elif name is not None and spec:
        found = VersionRef(name, version=spec) if spec.isdigit() else VersionRef(name, alias=spec)
    else:
        found = VersionRef("")
    valid = found.name and "/" not in found.name and (found.alias or (found.version or "").isdigit())
    if not valid or (found.alias and ("/" in found.alias or "@" in found.alias)):
        raise OcropsError(ErrorCode.INVALID_INPUT,
                          f"{text!r} names no model version: write models:/NAME@ALIAS or models:/NAME/VERSION"
                          + (" (or @ALIAS, ALIAS, VERSION of the registered model)" if name else ""))
    return found


def registered_version(ref: str | VersionRef):
    """The MLflow ModelVersion a reference names (a 5002 naming the store when the registry has none)."""
    ref = ref if isinstance(ref, VersionRef) else parse_version_ref(ref)
    client = MlflowClient()
    try:
        if ref.alias:
            return client.get_model_version_by_alias(ref.name, ref.alias)
        return client.get_model_version(ref.name, ref.version)
    except Exception as exc:  # unknown name/alias/version, unreachable store
        raise OcropsError(ErrorCode.UNAVAILABLE,
                          f"cannot find {ref} in the MLflow registry at {mlflow.get_tracking_uri()}: "
                          f"{str(exc).splitlines()[0] if str(exc) else exc}") from exc


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
