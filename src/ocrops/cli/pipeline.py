"""The pipeline commands: one stage as dvc.yaml runs it, the forgetting ablation, the choice of base model, the
GPU check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import ParamsOpt, console, err, fail
from ocrops.config import Paths, load_params
from ocrops.data.files import write_json

app = typer.Typer()


@app.command("stage")
def stage(
    name: Annotated[str, typer.Argument(help="validate, general, train, evaluate, register, export, benchmark, "
                                             "package or loadtest")],
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Run one pipeline stage, as dvc.yaml does (`dvc repro` runs them in order and skips what is current)."""
    from ocrops.stages import main as run_stage

    code = run_stage(name, params)
    if code:
        raise typer.Exit(code)


@app.command("ablate")
def ablate_cmd(
    variants: Annotated[Path | None, typer.Option(help="YAML of train-param variants (default: "
                                                       "paths.ablation.variants)")] = None,
    only: Annotated[list[str] | None, typer.Option(help="run just this variant (repeatable)")] = None,
    max_test_cer: Annotated[float, typer.Option(help="domain test CER a variant must reach to be chosen")] = 0.005,
    max_minutes: Annotated[float, typer.Option(help="training time a variant may take to be chosen")] = 15.0,
    report: Annotated[Path | None, typer.Option(help="the report (default: paths.ablation.report)")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train variants of the train params and read each on the domain test split and the guard set
    (paths.ablation.report, JSON and .md; runs add to what is there). Needs `dvc repro validate general` first."""
    from ocrops.training.reproducibility import pin_kernels

    p = load_params(params)
    pin_kernels(p.train.threads)  # before torch is imported: the train stage's numerics, so its model is a variant's
    from ocrops.experiments.ablation import ablate, load_variants

    variants = variants or p.paths.ablation.variants
    table = load_variants(variants)
    unknown = [name for name in only or [] if name not in table]
    if unknown:
        raise fail(f"{variants} has no variant {', '.join(unknown)}; it has {', '.join(table)}")
    found = ablate(p, table, only, limits=(max_test_cer, max_minutes), report_path=report, progress=err.print)
    console.print(f"chosen (test CER <= {100 * max_test_cer:g} %, guard within {p.promote.max_guard_cer_rise:g} "
                  f"points of the base, training <= {max_minutes:g} min): {found['chosen'] or 'none yet'}")


@app.command("bases")
def bases_cmd(
    only: Annotated[list[str] | None, typer.Option(help="just this base (repeatable); default: every preset")] = None,
    retrain: Annotated[bool, typer.Option(help="train again bases already trained")] = False,
    timing: Annotated[bool, typer.Option(help="time the bases again (--no-timing keeps the last timing run's "
                                              "figures: speed depends on the network, not its weights)")] = True,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Fine-tune every released base on the pipeline's data, read each on the test split, the guard set and the
    test pages, time them in one run, and pick the default by the rule in the report (paths.bases.report, JSON
    and .md). Needs `dvc repro validate general` first."""
    from ocrops.training.reproducibility import pin_kernels

    p = load_params(params)
    pin_kernels(p.train.threads)  # the train stage's numerics in this process too
    from ocrops.experiments.bases import bases, compare

    unknown = [name for name in only or [] if name not in bases()]
    if unknown:
        raise fail(f"no base {', '.join(unknown)}; the presets are {', '.join(bases())}")
    report = compare(p, only, retrain, timing, progress=err.print)
    console.print(f"chosen: {report['chosen'] or 'none'} ({report['rule']}); table: "
                  f"{p.paths.bases.report.with_suffix('.md')}")


@app.command("train-memory")
def train_memory_cmd(
    base: Annotated[str | None, typer.Option(help="the base to train (default: train.base)")] = None,
    steps: Annotated[int, typer.Option(help="training steps per dataset size")] = 30,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Peak RSS of training against dataset size (1k, 5k, 20k rows) and batch width, each in a fresh process
    (paths.train_memory.report, JSON and .md). Needs `dvc repro validate` first."""
    from ocrops.experiments.train_memory import measure, write

    p = load_params(params)
    report = measure(p, base or p.train.base, steps, progress=err.print)
    write(report, p.paths.train_memory.report)
    console.print(p.paths.train_memory.report.with_suffix(".md").read_text(encoding="utf-8"))


@app.command("gpu-check")
def gpu_check_cmd(
    report: Annotated[Path | None, typer.Option(help="where the results go (default: paths.gpu_check.report)")] = None,
    budget: Annotated[float, typer.Option(help="seconds after which no further check starts")] = 420.0,
    only: Annotated[list[str] | None, typer.Option(help="run only these checks")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Run every GPU path once (CUDA, ONNX Runtime CUDA, TensorRT, bf16 LoRA, the two-service Bento); without a
    GPU each check is skipped with its reason."""
    from ocrops.experiments.gpu_check import run

    result = run(budget, only)
    report = report or (load_params(params).paths.gpu_check.report if params.exists() else Paths().gpu_check.report)
    write_json(report, result)
    for name, check in result["checks"].items():
        detail = check.get("reason") or check.get("error") or ", ".join(
            f"{k} {v}" for k, v in check.items() if k not in ("status", "seconds", "traceback"))
        console.print(f"{name}: {check['status']} ({check['seconds']} s) {detail}", highlight=False)
    console.print(f"gpu-check: {result['summary']} -> {report}")
    if result["failed"]:
        raise typer.Exit(1)
