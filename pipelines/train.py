"""dvc stage `train`: fine-tune the base model on the accepted rows, tracked in MLflow."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from ocrops.adapter import DomainAdapter
from ocrops.augment import preview_grid
from ocrops.config import load_params
from ocrops.data.lines import Line, LineDataset
from ocrops.errors import OcropsError
from ocrops.tracking import TrainingRun

ACCEPTED = Path("outputs/validate/accepted.jsonl")
GENERAL = Path("outputs/general")
OUT = Path("outputs/train")
REPORTS = Path("reports")


def general_lines(split: str) -> LineDataset:
    rows = [json.loads(x) for x in (GENERAL / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    return LineDataset([Line(str(GENERAL / r["image"]), r["text"]) for r in rows if r["split"] == split], "general")


def family_settings(params) -> dict:
    if not params.train.base.startswith("glm-ocr:"):
        return {}
    from ocrops.models.glm_ocr.model import GlmOcrSettings

    return {"settings": GlmOcrSettings(**params.glm_ocr.model_dump())}


def main() -> int:
    params = load_params("params.yaml")
    t = params.train
    train, val = LineDataset.from_accepted(ACCEPTED, "train"), LineDataset.from_accepted(ACCEPTED, "val")
    # Checkpoints are kept across `dvc repro` (persist) so a killed run resumes; a change of
    # params or data starts a fresh folder.
    fingerprint = hashlib.sha256(
        (t.model_dump_json() + params.model.model_dump_json() + params.glm_ocr.model_dump_json()).encode()
        + ACCEPTED.read_bytes()
    ).hexdigest()[:16]
    checkpoints = OUT / "checkpoints"
    for stale in checkpoints.glob("*"):
        if stale.name != fingerprint:
            shutil.rmtree(stale, ignore_errors=True)
    REPORTS.mkdir(exist_ok=True)
    preview_grid([train.image(i) for i in range(min(6, len(train)))], t.augment, seed=t.seed).save(
        REPORTS / "augment_preview.png"
    )
    try:
        with TrainingRun(params, checkpoints / fingerprint / "mlflow_run_id") as run:
            run.log_setup(ACCEPTED, params.data.path)
            adapter = DomainAdapter(t.base, train, val, general_data=general_lines("train"),
                                    base_settings=family_settings(params), checkpoint_dir=checkpoints / fingerprint,
                                    on_epoch=run.log_epoch)
            result = adapter.train(lr=t.lr, batch_size=t.batch_size, epochs=t.epochs, augment=t.augment,
                                   warmup=t.warmup, weight_decay=t.weight_decay, patience=t.patience,
                                   general_ratio=t.general_ratio, seed=t.seed, grad_accum=t.grad_accum)
            shutil.rmtree(OUT / "model", ignore_errors=True)
            adapter.save(OUT / "model")
            run.log_artifacts(REPORTS / "augment_preview.png", OUT / "model")
            summary = {
                "best_epoch": result.best_epoch + 1,
                "epochs_run": len(result.history),
                "val_cer": result.best_val_cer,
                "stopped_early": result.stopped_early,
                "train_lines_per_s": sum(h.lines_per_s for h in result.history) / len(result.history),
                "added_characters": "".join(result.added_characters),
                "mlflow_run_id": run.run.info.run_id,
            }
    except OcropsError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 1
    (REPORTS / "train.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (REPORTS / "plots").mkdir(exist_ok=True)
    history = [{"epoch": h.epoch + 1, **{k: v for k, v in vars(h).items() if k != "epoch"}} for h in result.history]
    (REPORTS / "plots" / "train_history.json").write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    print(f"train: best val CER {summary['val_cer']:.4f} at epoch {summary['best_epoch']}, "
          f"{summary['train_lines_per_s']:.1f} lines/s, MLflow run {summary['mlflow_run_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
