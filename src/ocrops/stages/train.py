"""The ``train`` stage: fine-tune the base model on the accepted rows, tracked in MLflow."""

from __future__ import annotations

import hashlib
import shutil
from contextlib import nullcontext
from pathlib import Path

import ocrops
from ocrops.config import Params
from ocrops.data.augment import preview_grid
from ocrops.data.files import write_headline, write_json
from ocrops.data.lines import LineDataset
from ocrops.stages.common import mixin_lines
from ocrops.training.base import Base, resolve_base
from ocrops.training.distributed import is_main_process
from ocrops.training.reproducibility import deterministic, numerics
from ocrops.training.run import TrainingRun
from ocrops.training.trainer import FineTuner

HEADLINE = {"val_cer": "val_cer", "epochs_run": "epochs_run", "train_lines_per_s": "train_lines_per_s"}


def fingerprint(params: Params, base: Base, accepted: Path) -> str:
    """Checkpoints survive `dvc repro` (persist) so a killed run resumes the very same training;
    other params, data or ocrops code start afresh."""
    digest = hashlib.sha256()
    digest.update((params.train.model_dump_json() + base.family.name
                   + (base.settings.model_dump_json() if base.settings is not None else "")).encode())
    digest.update(accepted.read_bytes())
    package = Path(ocrops.__file__).parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def run(params: Params) -> dict | None:
    """Train and write the model, the training metrics, history plot and augmentation preview.

    Under torchrun / accelerate launch every rank trains; only rank 0 tracks and writes (returns None elsewhere).
    """
    t, paths = params.train, params.paths
    accepted = paths.validate_.accepted
    train, val = LineDataset.from_accepted(accepted, "train"), LineDataset.from_accepted(accepted, "val")
    base = resolve_base(params)
    checkpoints = paths.train.checkpoints / fingerprint(params, base, accepted)
    main = is_main_process()
    if main:
        for stale in checkpoints.parent.glob("*"):
            if stale != checkpoints:
                shutil.rmtree(stale, ignore_errors=True)
        paths.train.preview.parent.mkdir(parents=True, exist_ok=True)
        preview_grid([train.image(i) for i in range(min(6, len(train)))], t.augment, seed=t.seed).save(
            paths.train.preview
        )
    with TrainingRun(params, checkpoints / "mlflow_run_id") if main else nullcontext() as tracked:
        if tracked:
            tracked.log_setup(accepted, params.data.path, base.family.name)
        tuner = FineTuner(base.load(), train, val, settings=t, general_data=mixin_lines(params),
                          checkpoint_dir=checkpoints, on_epoch=tracked.log_epoch if tracked else None)
        result, nondeterministic = deterministic(tuner.train, t.threads)
        if not tracked:
            return None
        recorded = numerics(nondeterministic)
        tracked.log_numerics(recorded)
        shutil.rmtree(paths.train.model, ignore_errors=True)
        tuner.save(paths.train.model)
        tracked.log_artifacts(paths.train.preview, paths.train.model)
        report = {
            "best_epoch": result.best_epoch + 1,
            "epochs_run": len(result.history),
            "val_cer": result.best_val_cer,
            "stopped_early": result.stopped_early,
            "train_lines_per_s": sum(h.lines_per_s for h in result.history) / len(result.history),
            "added_characters": "".join(result.added_characters),
            "device": result.device,
            "mlflow_run_id": tracked.run.info.run_id,
            "numerics": recorded,
        }
    write_json(paths.train.metrics, report)
    write_headline(paths.train.headline, report, HEADLINE)
    history = [{"epoch": h.epoch + 1, **{k: v for k, v in vars(h).items() if k != "epoch"}} for h in result.history]
    write_json(paths.train.history, history, indent=1)
    return report


def summary(report: dict) -> list[str]:
    return [f"best val CER {report['val_cer']:.4f} at epoch {report['best_epoch']}, "
            f"{report['train_lines_per_s']:.1f} lines/s, MLflow run {report['mlflow_run_id']}"]
