"""The ``train`` stage: fine-tune the base model on the accepted rows, tracked in MLflow."""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import nullcontext
from pathlib import Path

import ocrops
from ocrops.adapter import DomainAdapter
from ocrops.augment import preview_grid
from ocrops.config import Params
from ocrops.data.contract import read_labels
from ocrops.data.lines import Line, LineDataset
from ocrops.distributed import is_main_process
from ocrops.tracking import TrainingRun


def general_lines(general_dir: str | Path, split: str) -> LineDataset:
    """The general (non-domain) lines of one split, as rendered by the ``general`` stage."""
    rows, _ = read_labels(general_dir)
    return LineDataset([Line(str(Path(general_dir) / r.image), r.text) for r in rows if r.split == split], "general")


def family_settings(params: Params) -> dict:
    """Loader settings for the base model's family (glm-ocr reads params.glm_ocr)."""
    if not params.train.base.startswith("glm-ocr:"):
        return {}
    from ocrops.models.glm_ocr.model import GlmOcrSettings

    return {"settings": GlmOcrSettings(**params.glm_ocr.model_dump())}


def fingerprint(params: Params, accepted: Path) -> str:
    """Checkpoints survive `dvc repro` (persist) so a killed run resumes the very same training;
    other params, data or ocrops code start afresh."""
    digest = hashlib.sha256()
    digest.update((params.train.model_dump_json() + params.model.model_dump_json()
                   + params.glm_ocr.model_dump_json()).encode())
    digest.update(accepted.read_bytes())
    package = Path(ocrops.__file__).parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def run_train(params: Params, accepted: Path, general_dir: Path, out: Path, reports: Path) -> dict | None:
    """Train and write ``out/model``, ``reports/train.json``, plots and the augmentation preview.

    Under torchrun / accelerate launch every rank trains; only rank 0 tracks and writes (returns None elsewhere).
    """
    t = params.train
    train, val = LineDataset.from_accepted(accepted, "train"), LineDataset.from_accepted(accepted, "val")
    checkpoints = out / "checkpoints" / fingerprint(params, accepted)
    main = is_main_process()
    if main:
        for stale in checkpoints.parent.glob("*"):
            if stale != checkpoints:
                shutil.rmtree(stale, ignore_errors=True)
        reports.mkdir(parents=True, exist_ok=True)
        preview_grid([train.image(i) for i in range(min(6, len(train)))], t.augment, seed=t.seed).save(
            reports / "augment_preview.png"
        )
    with TrainingRun(params, checkpoints / "mlflow_run_id") if main else nullcontext() as run:
        if run:
            run.log_setup(accepted, params.data.path)
        adapter = DomainAdapter(t.base, train, val, general_data=general_lines(general_dir, "train"),
                                base_settings=family_settings(params), checkpoint_dir=checkpoints,
                                preprocess="enhance_scan" if t.enhance_scan else None,
                                on_epoch=run.log_epoch if run else None)
        result = adapter.train(lr=t.lr, batch_size=t.batch_size, epochs=t.epochs, augment=t.augment,
                               warmup=t.warmup, weight_decay=t.weight_decay, patience=t.patience,
                               general_ratio=t.general_ratio, seed=t.seed, grad_accum=t.grad_accum)
        if not run:
            return None
        shutil.rmtree(out / "model", ignore_errors=True)
        adapter.save(out / "model")
        run.log_artifacts(reports / "augment_preview.png", out / "model")
        summary = {
            "best_epoch": result.best_epoch + 1,
            "epochs_run": len(result.history),
            "val_cer": result.best_val_cer,
            "stopped_early": result.stopped_early,
            "train_lines_per_s": sum(h.lines_per_s for h in result.history) / len(result.history),
            "added_characters": "".join(result.added_characters),
            "mlflow_run_id": run.run.info.run_id,
        }
    (reports / "train.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (reports / "plots").mkdir(exist_ok=True)
    history = [{"epoch": h.epoch + 1, **{k: v for k, v in vars(h).items() if k != "epoch"}} for h in result.history]
    (reports / "plots" / "train_history.json").write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    return summary
