"""The MLflow model registry: the packaged model (a pyfunc), registration with lineage, aliases and the
promotion gate.

A registered version carries, as tags, what the gate and a reviewer need: the git commit, the DVC digest
of the data, the digest of the test set it was evaluated on, and its headline figures.
"""

from __future__ import annotations

import base64
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ocrops.config import Params
from ocrops.errors import ErrorCode, OcropsError, PipelineError
from ocrops.postprocess import Postprocessor

CANDIDATE, CHAMPION = "candidate", "champion"
OVERRIDE_TAG = "promotion.override"

# What the packaged model needs at inference time, per family (training-only packages are left out).
RUNTIME_PACKAGES = {
    "common": ["mlflow", "torch", "numpy", "pandas", "pillow", "safetensors", "pydantic", "pyyaml", "rapidfuzz",
               "rapidocr-onnxruntime", "onnxruntime", "opencv-python", "pyclipper"],
    "glm-ocr": ["transformers", "peft", "tokenizers", "accelerate"],
}


def pip_requirements(family: str) -> list[str]:
    """Pinned to the versions of this environment, so the served model behaves as the evaluated one."""
    names = RUNTIME_PACKAGES["common"] + RUNTIME_PACKAGES.get(family, [])
    pins = []
    for name in names:
        try:
            # a local label (torch's "+cpu") names one wheel index; the plain version resolves everywhere
            pins.append(f"{name}=={version(name).split('+')[0]}")
        except PackageNotFoundError:
            continue  # e.g. opencv installed under another distribution name
    return pins


# -- the pyfunc ------------------------------------------------------------------------------------


def _decode(value) -> object:
    """A cell of the ``image`` column: base64 text (optionally a data URI) or raw bytes -> RGB image, with the
    service's checks and limits."""
    from ocrops.serving.inputs import PayloadLimits, decode_base64, open_image

    limits = PayloadLimits()
    if isinstance(value, str):
        value = decode_base64(value, limits)
    if not isinstance(value, bytes | bytearray):
        raise OcropsError(ErrorCode.MALFORMED_REQUEST, f"image must be base64 text or bytes, not {type(value)}")
    return open_image(bytes(value), limits)


class OcropsPyfunc(mlflow.pyfunc.PythonModel):
    """Line images in (column ``image``: base64 or bytes), text out: the family's model + post-processing."""

    def load_context(self, context) -> None:
        from ocrops.models.base import load_model

        self.model = load_model(context.artifacts["ocr_model"])
        self.chain = Postprocessor.load(context.artifacts["postprocess"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if "image" not in model_input:
            raise OcropsError(ErrorCode.MALFORMED_REQUEST, "input needs a column 'image' (base64 PNG/JPEG)")
        params = params or {}
        images = [_decode(v) for v in model_input["image"]]
        predictions = self.model.predict(images, batch_size=int(params.get("batch_size", 16)))
        post = bool(params.get("postprocess", True))
        return pd.DataFrame({
            "text": [self.chain(p.text, p.confidence) if post else p.text for p in predictions],
            "raw_text": [p.text for p in predictions],
            "confidence": [float(p.confidence) for p in predictions],
        })


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "image")]),
        outputs=Schema([ColSpec("string", "text"), ColSpec("string", "raw_text"), ColSpec("double", "confidence")]),
        params=ParamSchema([ParamSpec("postprocess", "boolean", True), ParamSpec("batch_size", "long", 16)]),
    )


def image_b64(path: str | Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def log_pyfunc(model_dir: Path, chain: Postprocessor, example_image: str | Path, family: str):
    """Log the packaged model to the active run; returns MLflow's ModelInfo (model_uri, model_id)."""
    import ocrops

    with tempfile.TemporaryDirectory() as tmp:
        post = chain.save(Path(tmp) / "postprocess")
        code = [str(Path(ocrops.__file__).parent)]
        code += [_module_file(spec) for spec in chain.settings.rules if _module_file(spec)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas/pydantic notes while inferring the example
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(Path(ocrops.__file__).parent / "pyfunc_entry.py"),
                artifacts={"ocr_model": str(model_dir), "postprocess": str(post)},
                code_paths=code,
                pip_requirements=pip_requirements(family),
                signature=_signature(),
                input_example=pd.DataFrame({"image": [image_b64(example_image)]}),
            )
    return info


def _module_file(spec: str) -> str | None:
    """A user rule's module file, packaged with the model so the service can import it."""
    import importlib.util

    found = importlib.util.find_spec(spec.partition(":")[0])
    origin = found.origin if found else None
    return origin if origin and origin.endswith(".py") and "site-packages" not in origin else None


# -- registration ----------------------------------------------------------------------------------


@dataclass
class Registered:
    name: str
    version: str
    model_uri: str
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)


def headline_tags(evaluation: dict) -> dict[str, str]:
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
        "general_cer_change_points": evaluation["general"]["cer_change_points"],
    }
    tags = {k: f"{v:.6g}" for k, v in figures.items() if v is not None}
    tags["test_set_digest"] = evaluation["test_set"]["digest"]
    tags["test_set_lines"] = str(evaluation["test_set"]["lines"])
    return tags


def register(params: Params, model_dir: Path, evaluation: dict, chain: Postprocessor, example_image: Path,
             train_run_id: str | None = None, lineage: dict[str, str] | None = None) -> Registered:
    """Log the packaged model (into the training run when the store still has it), register a new version
    with its tags, and point alias ``candidate`` at it."""
    from ocrops.models.base import FAMILY_FILE
    from ocrops.tracking import setup

    experiment_id = setup(params)
    client = MlflowClient()
    family = (model_dir / FAMILY_FILE).read_text(encoding="utf-8").strip()
    run_id = train_run_id if train_run_id and _run_exists(client, train_run_id) else None
    tags = headline_tags(evaluation) | {"family": family} | {k: v for k, v in (lineage or {}).items() if v}
    with mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id,
                          run_name=None if run_id else "register") as run:
        metrics = {f"test_{k}": v for k, v in evaluation["test"]["adapted"].items() if isinstance(v, int | float)}
        post = evaluation["test"]["adapted_postprocessed"] or {}
        metrics |= {f"test_postprocessed_{k}": v for k, v in post.items() if isinstance(v, int | float)}
        metrics |= {f"test_latency_{k}": v for k, v in evaluation["test"]["adapted"]["latency"].items()}
        metrics = {k: float(v) for k, v in metrics.items()}
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"ocrops.test_set_digest": tags["test_set_digest"]})
        try:
            info = log_pyfunc(model_dir, chain, example_image, family)
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
    return Registered(name=name, version=str(mv.version), model_uri=f"models:/{name}@{CANDIDATE}",
                      run_id=run.info.run_id, tags=tags)


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
    raise OcropsError(ErrorCode.MODEL_NOT_READY,
                      f"registered model {name!r} has neither a '{CHAMPION}' nor a '{CANDIDATE}' alias; run the "
                      "register stage (dvc repro register)")


# -- promotion -------------------------------------------------------------------------------------


@dataclass
class Decision:
    version: str
    allowed: bool
    reasons: list[str]
    champion: str | None = None
    forced: bool = False


def _figure(tags: dict[str, str], key: str) -> float | None:
    try:
        return float(tags[key])
    except (KeyError, ValueError):
        return None


def gate(candidate: dict[str, str], champion: dict[str, str] | None, params: Params) -> list[str]:
    """Why ``candidate`` may not replace ``champion`` (tags of both versions); empty when it may."""
    p, reasons = params.promote, []
    needed = ("test_cer_postprocessed", "test_set_digest", "latency_p50_ms")
    missing = [k for k in needed if k not in candidate]
    if missing:
        return [f"the version carries no {', '.join(missing)} tag: register it with the register stage "
                "(dvc repro register), which evaluates it first"]
    latency = _figure(candidate, "latency_p50_ms")
    if latency is not None and latency > p.max_latency_ms:
        reasons.append(f"latency p50 {latency:.1f} ms exceeds the budget of {p.max_latency_ms:g} ms "
                       "(promote.max_latency_ms)")
    if champion is None:
        return reasons
    if champion.get("test_set_digest") != candidate["test_set_digest"]:
        return reasons + [
            f"evaluated on a different test set than the champion (test set {candidate['test_set_digest'][:12]} "
            f"vs {str(champion.get('test_set_digest'))[:12]}); re-evaluate both on one test set"]
    cer, best = _figure(candidate, "test_cer_postprocessed"), _figure(champion, "test_cer_postprocessed")
    if cer is not None and best is not None and cer > best + p.cer_tolerance:
        reasons.append(f"test CER {100 * cer:.2f}% is worse than the champion's {100 * best:.2f}% "
                       f"(tolerance {100 * p.cer_tolerance:.2f} points)")
    recall = _figure(candidate, "test_term_recall_postprocessed")
    best_recall = _figure(champion, "test_term_recall_postprocessed")
    if recall is not None and best_recall is not None and recall < best_recall - p.term_recall_tolerance:
        reasons.append(f"term recall {100 * recall:.2f}% is below the champion's {100 * best_recall:.2f}% "
                       f"(tolerance {100 * p.term_recall_tolerance:.2f} points)")
    return reasons


def promote(params: Params, version: str, force: bool = False, alias: str = CHAMPION) -> Decision:
    """Set ``alias`` (champion) on ``version`` if the gate allows it, or anyway with ``force`` (tagged)."""
    from ocrops.tracking import setup

    setup(params)
    client, name = MlflowClient(), params.mlflow.registered_model
    try:
        candidate = client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise OcropsError(ErrorCode.MALFORMED_REQUEST,
                          f"registered model {name!r} has no version {version!r} at {mlflow.get_tracking_uri()}"
                          ) from exc
    try:
        current = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        current = None
    if current is not None and str(current.version) == str(candidate.version):
        return Decision(str(version), True, [f"version {version} already holds '{alias}'"], str(current.version))
    reasons = gate(candidate.tags, current.tags if current else None, params)
    decision = Decision(str(version), not reasons, reasons, str(current.version) if current else None)
    if reasons and not force:
        return decision
    client.set_registered_model_alias(name, alias, str(version))
    if reasons:
        decision.allowed, decision.forced = True, True
        client.set_model_version_tag(name, str(version), OVERRIDE_TAG, json.dumps(
            {"alias": alias, "replaced": decision.champion, "reasons": reasons}, ensure_ascii=False))
    return decision


def verify_registered(model_uri: str, images: list[str | Path], references: list[str], chain: Postprocessor,
                      batch_size: int = 16) -> dict[str, float]:
    """Load the registered model back and read the test images through it: raw and post-processed CER."""
    from ocrops.metrics import cer

    model = mlflow.pyfunc.load_model(model_uri)
    frame = pd.DataFrame({"image": [image_b64(p) for p in images]})
    out = model.predict(frame, params={"batch_size": batch_size})
    return {"cer": cer(list(out["raw_text"]), references),
            "cer_postprocessed": cer(list(out["text"]), [chain.redact(r) for r in references])}
