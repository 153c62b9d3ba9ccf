"""The ``train`` stage: fine-tune the base model on the accepted rows, tracked in MLflow."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from contextlib import nullcontext
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import ocrops
from ocrops.adapter import DomainAdapter
from ocrops.augment import preview_grid
from ocrops.config import Params
from ocrops.data.lines import LineDataset
from ocrops.distributed import is_main_process
from ocrops.env import cpu_fields
from ocrops.stages.common import base_family, base_model, mixin_lines
from ocrops.tracking import TrainingRun


def fingerprint(params: Params, accepted: Path) -> str:
    """Checkpoints survive `dvc repro` (persist) so a killed run resumes the very same training;
    other params, data or ocrops code start afresh."""
    family = base_family(params)
    settings = params.family_settings(family)
    digest = hashlib.sha256()
    digest.update((params.train.model_dump_json() + family.name
                   + (settings.model_dump_json() if settings is not None else "")).encode())
    digest.update(accepted.read_bytes())
    package = Path(ocrops.__file__).parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + source.read_bytes())
    return digest.hexdigest()[:16]


# what decides the model's bits besides data, params and code; recorded with every training
NUMERIC_PACKAGES = ("torch", "numpy", "albumentations", "opencv-python-headless", "pillow", "safetensors")
LOCK_FILE = Path("requirements-dev.lock")


def numerics(nondeterministic: list[str]) -> dict:
    """Kernels, threads, library versions and the lock the model was trained with."""
    import torch

    versions = {}
    for name in NUMERIC_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "kernels": {k: os.environ.get(k) for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")},
        "versions": versions,
        "lock_sha256": hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest() if LOCK_FILE.exists() else None,
        "nondeterministic_ops": nondeterministic,
        "cuda": torch.cuda.is_available(),
    }


def _cpu_model() -> str | None:
    """The CPU as Linux reports it: name, family/model/stepping and cache. A virtual machine often shows a generic
    name ("Intel(R) Xeon(R) Processor"); the model number and cache size still tell two machines apart."""
    fields = cpu_fields()
    if "model name" not in fields:
        return None
    return (f"{fields['model name']} ({fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} "
            f"model {fields.get('model', '?')} stepping {fields.get('stepping', '?')}, "
            f"cache {fields.get('cache size', '?')})")


def run(params: Params) -> dict | None:
    """Train and write the model, the training metrics, history plot and augmentation preview.

    Under torchrun / accelerate launch every rank trains; only rank 0 tracks and writes (returns None elsewhere).
    """
    t, paths = params.train, params.paths
    accepted = paths.validate_.accepted
    train, val = LineDataset.from_accepted(accepted, "train"), LineDataset.from_accepted(accepted, "val")
    checkpoints = paths.train.checkpoints / fingerprint(params, accepted)
    main = is_main_process()
    if main:
        for stale in checkpoints.parent.glob("*"):
            if stale != checkpoints:
                shutil.rmtree(stale, ignore_errors=True)
        paths.train.preview.parent.mkdir(parents=True, exist_ok=True)
        preview_grid([train.image(i) for i in range(min(6, len(train)))], t.augment, seed=t.seed).save(
            paths.train.preview
        )
    with TrainingRun(params, checkpoints / "mlflow_run_id") if main else nullcontext() as run:
        if run:
            run.log_setup(accepted, params.data.path, base_family(params).name)
        general = mixin_lines(params)
        adapter = DomainAdapter(base_model(params), train, val, general_data=general, checkpoint_dir=checkpoints,
                                preprocess="enhance_scan" if t.enhance_scan else None,
                                on_epoch=run.log_epoch if run else None)
        result, nondeterministic = _train_recording_nondeterminism(adapter, params)
        if not run:
            return None
        recorded = numerics(nondeterministic)
        run.log_numerics(recorded)
        shutil.rmtree(paths.train.model, ignore_errors=True)
        adapter.save(paths.train.model)
        run.log_artifacts(paths.train.preview, paths.train.model)
        summary = {
            "best_epoch": result.best_epoch + 1,
            "epochs_run": len(result.history),
            "val_cer": result.best_val_cer,
            "stopped_early": result.stopped_early,
            "train_lines_per_s": sum(h.lines_per_s for h in result.history) / len(result.history),
            "added_characters": "".join(result.added_characters),
            "device": result.device,
            "mlflow_run_id": run.run.info.run_id,
            "numerics": recorded,
        }
    paths.train.metrics.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths.train.history.parent.mkdir(parents=True, exist_ok=True)
    history = [{"epoch": h.epoch + 1, **{k: v for k, v in vars(h).items() if k != "epoch"}} for h in result.history]
    paths.train.history.write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    return summary


def _train_recording_nondeterminism(adapter: DomainAdapter, params: Params):
    """Train with PyTorch's deterministic algorithms where they exist; an op without one still runs and is
    named in the report (warn_only), so a run says what could make it unrepeatable."""
    import torch

    torch.set_num_threads(params.train.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = adapter.train(params.train)
    flagged = set()
    for w in caught:
        if "deterministic" in str(w.message):
            flagged.add(str(w.message).split(" does not have")[0].strip())
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, sorted(flagged)


def summary(report: dict) -> list[str]:
    return [f"best val CER {report['val_cer']:.4f} at epoch {report['best_epoch']}, "
            f"{report['train_lines_per_s']:.1f} lines/s, MLflow run {report['mlflow_run_id']}"]
