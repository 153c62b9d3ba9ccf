"""Registered versions: a new version of the evaluated model with its lineage and headline figures as tags,
alias ``candidate``; which version to serve; loading a version back to prove it reads as evaluated.

A registered version carries, as tags, what the gate and a reviewer need: the git commit, the DVC digest
of the data, the digest of the test set it was evaluated on, and its headline figures.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ocrops.config import Params
from ocrops.errors import ErrorCode, OcropsError, PipelineError
from ocrops.families import saved_family
from ocrops.postprocess import Postprocessor
from ocrops.registry.description import describe
from ocrops.registry.pyfunc import image_b64, log_pyfunc
from ocrops.tracking import setup

CANDIDATE, CHAMPION = "candidate", "champion"


@dataclass
class Registered:
    name: str
    version: str
    model_uri: str
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)


def headline_tags(evaluation: dict, test_set_name: str = "the test split") -> dict[str, str]:
    """The figures a version is judged by, from ``reports/evaluate.json``."""
    test = evaluation["test"]
    adapted, post = test["adapted"], test["adapted_postprocessed"] or test["adapted"]
    figures = {
        "test_cer": adapted["cer"],
        "test_cer_postprocessed": post["cer"],
        "test_exact_match": adapted["exact_match"],
        "test_term_recall": adapted["term_recall"],
        "test_term_recall_postprocessed": post["term_recall"],
        "base_test_cer": test["base"]["cer"],
        "latency_p50_ms": adapted["latency"]["p50_ms"],
        "latency_p95_ms": adapted["latency"]["p95_ms"],
        "test_lines_per_s": adapted.get("lines_per_s"),
        "general_cer_change_points": evaluation["general"]["cer_change_points"],
    }
    guard = evaluation.get("guard", {})
    if "adapted" in guard:  # absent when the project has no guard set
        figures |= {"guard_cer": guard["adapted"]["cer"], "base_guard_cer": guard["base"]["cer"],
                    "guard_cer_change_points": guard["cer_change_points"]}
    if "map" in (calibration := evaluation.get("calibration", {})):  # absent in reports older than calibration
        figures |= {"review_threshold": calibration["map"]["threshold"],
                    "review_target_exact": calibration["fit"]["target_exact"],
                    "test_ece_raw": calibration["test"]["raw_ece"],
                    "test_ece_calibrated": calibration["test"]["calibrated_ece"],
                    "test_share_needs_review": calibration["test"]["share_below"]}
        if "test_degraded" in calibration:
            figures |= {"test_degraded_ece_raw": calibration["test_degraded"]["raw_ece"],
                        "test_degraded_ece_calibrated": calibration["test_degraded"]["calibrated_ece"]}
    if "adapted" in (reviewed := evaluation.get("reviewed", {})):  # test lines that came from review
        figures |= {"reviewed_cer": reviewed["adapted"]["cer"], "base_reviewed_cer": reviewed["base"]["cer"]}
    tags = {k: f"{v:.6g}" for k, v in figures.items() if v is not None}
    if "adapted" in reviewed:
        tags["reviewed_lines"] = str(reviewed["lines"])
    tags["test_set_digest"] = evaluation["test_set"]["digest"]
    tags["test_set_lines"] = str(evaluation["test_set"]["lines"])
    tags["test_set_name"] = test_set_name
    if "adapted" in guard:
        tags["guard_set_digest"], tags["guard_set_lines"] = guard["digest"], str(guard["lines"])
    return tags


def register(params: Params, model_dir: Path, evaluation: dict, chain: Postprocessor, example_image: Path,
             train_run_id: str | None = None, lineage: dict[str, str] | None = None) -> Registered:
    """Log the packaged model (into the training run when the store still has it), register a new version
    with its tags and its description (headline figures, versus the champion), and point alias ``candidate``
    at it."""
    experiment_id = setup(params)
    client = MlflowClient()
    family = saved_family(model_dir)
    run_id = train_run_id if train_run_id and _run_exists(client, train_run_id) else None
    tags = (headline_tags(evaluation, f"{params.data.path} (test split)") | {"family": family.name}
            | {k: v for k, v in (lineage or {}).items() if v})
    with mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id,
                          run_name=None if run_id else "register") as run:
        metrics = {f"test_{k}": v for k, v in evaluation["test"]["adapted"].items() if isinstance(v, int | float)}
        post = evaluation["test"]["adapted_postprocessed"] or {}
        metrics |= {f"test_postprocessed_{k}": v for k, v in post.items() if isinstance(v, int | float)}
        metrics |= {f"test_latency_{k}": v for k, v in evaluation["test"]["adapted"]["latency"].items()}
        metrics |= {k: v for k, v in tags.items() if k.startswith(("test_ece", "test_degraded_ece", "review_"))}
        metrics = {k: float(v) for k, v in metrics.items()}
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"ocrops.test_set_digest": tags["test_set_digest"]})
        try:
            info = log_pyfunc(model_dir, chain, example_image, family)
            if params.paths.evaluate.reliability_png.exists():  # the reliability diagram beside the figures
                mlflow.log_artifact(str(params.paths.evaluate.reliability_png))
        except (OSError, MlflowException) as exc:  # disk full, read-only artifact store: the run ends FAILED
            reason = (f"{exc.strerror} ({exc.filename})" if isinstance(exc, OSError)
                      else str(exc).strip().splitlines()[-1])
            raise PipelineError(f"cannot store the model in {mlflow.get_artifact_uri()}: {reason}; "
                                "nothing was registered") from exc
        # the same figures on the logged model, so its page in the UI shows accuracy and latency
        mlflow.log_metrics(metrics, model_id=info.model_id)
    name = params.mlflow.registered_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        mv = mlflow.register_model(info.model_uri, name, tags=tags)
    client.set_registered_model_alias(name, CANDIDATE, mv.version)
    refresh_description(client, name, str(mv.version))
    return Registered(name=name, version=str(mv.version), model_uri=f"models:/{name}@{CANDIDATE}",
                      run_id=run.info.run_id, tags=tags)


def champion_of(client: MlflowClient, name: str) -> tuple[str | None, dict[str, str] | None]:
    """(version, tags) of the version holding ``champion``, or (None, None)."""
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None, None
    return str(mv.version), dict(mv.tags)


def refresh_description(client: MlflowClient, name: str, version: str) -> str:
    """Write the version page's Markdown from the version's tags and the current champion's."""
    tags = dict(client.get_model_version(name, version).tags)
    champion, champion_tags = champion_of(client, name)
    text = describe(version, tags, champion, champion_tags)
    client.update_model_version(name, version, description=text)
    return text


def _run_exists(client: MlflowClient, run_id: str) -> bool:
    try:
        client.get_run(run_id)
        return True
    except MlflowException:
        return False


def serving_version(client: MlflowClient, name: str) -> tuple[str, str]:
    """(alias, version) to serve: ``champion``, else ``candidate`` (with a warning); what the package stage
    builds. An alias moved in the MLflow UI is picked up here, with no change to code or params."""
    for alias in (CHAMPION, CANDIDATE):
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            continue
        if alias == CANDIDATE:
            warnings.warn(f"{name} has no '{CHAMPION}' alias yet; using '{CANDIDATE}' (version {mv.version})",
                          stacklevel=2)
        return alias, str(mv.version)
    raise OcropsError(ErrorCode.UNAVAILABLE,
                      f"registered model {name!r} has neither a '{CHAMPION}' nor a '{CANDIDATE}' alias; run the "
                      "register stage (dvc repro register)")


def verify_registered(model_uri: str, images: list[str | Path], references: list[str], chain: Postprocessor,
                      batch_size: int = 16) -> dict[str, float]:
    """Load the registered model back and read the test images through it: raw and post-processed CER."""
    from ocrops.evaluation.metrics import cer

    model = mlflow.pyfunc.load_model(model_uri)
    frame = pd.DataFrame({"image": [image_b64(p) for p in images]})
    out = model.predict(frame, params={"batch_size": batch_size})
    return {"cer": cer(list(out["raw_text"]), references),
            "cer_postprocessed": cer(list(out["text"]), [chain.redact(r) for r in references])}
