"""The forgetting ablation: variants of the ``train`` params (recipes/ablation.yaml), each trained from scratch on
the pipeline's data and read on the domain test split and on the guard set. Results are kept per variant in
reports/ablation.json (a run adds to it), with a Markdown table beside it; ``best`` picks the trade-off."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from ocrops.config import Params
from ocrops.data.files import write_json
from ocrops.data.lines import LineDataset
from ocrops.models import load_model
from ocrops.models.interface import OCRModel
from ocrops.registry.promotion import forgetting_reasons


def load_variants(path: str | Path) -> dict[str, dict]:
    return dict(yaml.safe_load(Path(path).read_text(encoding="utf-8"))["variants"])


def variant_params(params: Params, name: str, overrides: dict, work: Path | None = None,
                   experiment: str = "ablation") -> Params:
    """The pipeline's params with ``overrides`` on ``train``, training into ``work/name`` (default:
    ``paths.ablation.work``; every train file there, so no variant writes over the pipeline's), tracked in MLflow
    under ``EXPERIMENT-<experiment>`` so the pipeline's experiment holds pipeline runs only."""
    data = params.model_dump(mode="json", by_alias=True)
    data["train"].update(overrides)
    folder = (work or params.paths.ablation.work) / name
    data["paths"]["train"] = {"model": str(folder / "model"), "checkpoints": str(folder / "checkpoints"),
                              "preview": str(folder / "augment_preview.png"),
                              "history": str(folder / "history.json"), "metrics": str(folder / "train.json"),
                              "headline": str(folder / "headline.json")}
    data["mlflow"]["experiment"] = f"{params.mlflow.experiment}-{experiment}"
    return Params.model_validate(data)


def read_sets(params: Params) -> dict[str, LineDataset]:
    from ocrops.stages.common import guard_lines

    return {"test": LineDataset.from_accepted(params.paths.validate_.accepted, "test"),
            "guard": guard_lines(params.paths.validate_.guard)[0]}


def cers(model: OCRModel, sets: dict[str, LineDataset], batch_size: int = 16) -> dict[str, float]:
    from ocrops.evaluation.measure import measure  # the evaluate stage's reading, so the figures compare

    return {f"{name}_cer": measure(model, data, [], None, batch_size)[0]["cer"] for name, data in sets.items()}


def run_variant(params: Params, name: str, overrides: dict, sets: dict[str, LineDataset]) -> dict:
    from ocrops.stages import train

    varied = variant_params(params, name, overrides)
    started = time.perf_counter()
    summary = train.run(varied) or {}
    minutes = (time.perf_counter() - started) / 60
    figures = cers(load_model(varied.paths.train.model), sets, params.evaluate.batch_size)
    return {"overrides": overrides, **figures, "train_minutes": minutes,
            "epochs_run": summary.get("epochs_run"), "best_epoch": summary.get("best_epoch")}


def best(report: dict, max_test_cer: float, max_rise_points: float, max_minutes: float = 15.0) -> str | None:
    """The variant with the lowest domain test CER among those within the limits (domain test CER, guard CER
    at most ``max_rise_points`` above the base model's, training time); the shorter training on a tie."""
    base = report["base"]["guard_cer"]
    fit = [(v["test_cer"], v["train_minutes"], name) for name, v in report["variants"].items()
           if v["test_cer"] <= max_test_cer and 100 * (v["guard_cer"] - base) <= max_rise_points
           and v["train_minutes"] <= max_minutes]
    return min(fit)[2] if fit else None


def gate_on_guard(guard_cer: float, base: dict, rise: float) -> str:
    """What `ocrops promote`'s guard rule says of a variant's figures (no champion)."""
    tags = {"guard_cer": str(guard_cer), "base_guard_cer": str(base["guard_cer"]),
            "guard_set_lines": str(base["sets"]["guard"]["lines"])}
    return "refused: forgot general reading" if forgetting_reasons(tags, None, rise, rise) else "passes"


def markdown(report: dict) -> str:
    base = report["base"]
    limits = report.get("limits", {})  # reports written before the rename say max_general_cer_rise_points
    rise = limits.get("max_guard_cer_rise_points", limits.get("max_general_cer_rise_points", 0.1))
    rows = ["| variant | train overrides | domain test CER | guard CER | guard vs base | training | promotion gate |",
            "|---|---|---:|---:|---:|---:|---|",
            f"| base model (no training) | | {100 * base['test_cer']:.2f} % | {100 * base['guard_cer']:.2f} % | "
            f"| | |"]
    for name, v in report["variants"].items():
        overrides = ", ".join(f"{k}={val}" for k, val in v["overrides"].items()) or "(params.yaml)"
        mark = " **chosen**" if name == report.get("chosen") else ""
        rows.append(f"| {name}{mark} | {overrides} | {100 * v['test_cer']:.2f} % | {100 * v['guard_cer']:.2f} % | "
                    f"{100 * (v['guard_cer'] - base['guard_cer']):+.2f} pts | {v['train_minutes']:.1f} min, "
                    f"{v['epochs_run']} epochs | {gate_on_guard(v['guard_cer'], base, rise)} |")
    return "\n".join(rows) + "\n"


def ablate(params: Params, variants: dict[str, dict], only: list[str] | None = None,
           limits: tuple[float, float] = (0.005, 15.0), report_path: Path | None = None, progress=print) -> dict:
    """Run the chosen variants (all by default), keep the report of earlier ones, write JSON and Markdown (to
    ``paths.ablation.report`` by default);
    ``limits`` (domain test CER, training minutes) with the guard rise of ``promote`` decide the choice."""
    from ocrops.training.base import resolve_base

    report_path = report_path or params.paths.ablation.report
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {"variants": {}}
    sets = read_sets(params)
    report["sets"] = {name: {"lines": len(data), "digest": data.digest()} for name, data in sets.items()}
    if report.get("base", {}).get("sets") != report["sets"]:  # new data: earlier variants are not comparable
        report = {"sets": report["sets"], "variants": {},
                  "base": cers(resolve_base(params).load(), sets) | {"sets": report["sets"]}}
    for name in only or list(variants):
        progress(f"ablation: training {name} {variants[name]}")
        report["variants"][name] = run_variant(params, name, variants[name], sets)
        report["chosen"] = best(report, limits[0], params.promote.max_guard_cer_rise, limits[1])
        _write(report, report_path)
        progress(f"ablation: {name}: " + json.dumps({k: v for k, v in report["variants"][name].items()
                                                     if k != "overrides"}))
    report["chosen"] = best(report, limits[0], params.promote.max_guard_cer_rise, limits[1])
    report["limits"] = {"max_test_cer": limits[0], "max_guard_cer_rise_points": params.promote.max_guard_cer_rise,
                        "max_train_minutes": limits[1]}
    _write(report, report_path)
    return report


def _write(report: dict, path: Path) -> None:
    write_json(path, report)
    path.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
