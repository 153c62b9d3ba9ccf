"""The MLflow commands: promote a version, evaluate versions on a test set, the MLflow UI, ``mlflow`` on the
project's store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import ParamsOpt, become, console, err, fail
from ocrops.config import load_params
from ocrops.errors import OcropsError, PipelineError

app = typer.Typer()


@app.command("promote")
def promote_cmd(
    version: Annotated[str, typer.Argument(help="registered model version to promote")],
    force: Annotated[bool, typer.Option("--force", help="promote despite the gate; the override is tagged")] = False,
    alias: Annotated[str, typer.Option(help="alias to set")] = "champion",
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Set alias `champion` on VERSION if it is no worse than the current champion (the gate in params.promote)."""
    from ocrops.registry.promotion import promote

    settings = load_params(params)
    try:
        decision = promote(settings, version, force=force, alias=alias)
    except OcropsError as exc:
        raise fail(str(exc), 1) from exc
    name = settings.mlflow.registered_model
    against = f" (champion was version {decision.champion})" if decision.champion else " (no champion before)"
    if not decision.allowed:
        err.print(f"[bold red]refused[/] {name} version {version} stays out of '{alias}'{against}:")
        for reason in decision.reasons:
            err.print(f"  - {reason}")
        err.print("pass --force to promote anyway (the override is recorded on the version)")
        raise typer.Exit(1)
    if decision.forced:
        console.print(f"[bold yellow]forced[/] {name} version {version} is now '{alias}'{against} despite:")
        for reason in decision.reasons:
            console.print(f"  - {reason}")
        return
    console.print(f"[bold green]promoted[/] {name} version {version} is now '{alias}'{against}")
    for reason in decision.reasons:
        console.print(f"  {reason}")


@app.command("evaluate")
def evaluate_cmd(
    version: Annotated[str, typer.Argument(help="registered version: a number, or @ALIAS (e.g. @champion)")],
    dataset: Annotated[Path | None, typer.Option(help="a dataset directory to read instead of the current test "
                                                       "split (validated first; quarantined rows are left out)")]
    = None,
    split: Annotated[str, typer.Option(help="split of --dataset to read: test, val, train or all")] = "test",
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Read a registered version on the current test split (or --dataset) and record the figures on it, so the
    gate and the MLflow UI can compare it with any version read on the same test set."""
    from ocrops.registry.reevaluation import evaluate_version, test_set

    settings = load_params(params)
    try:
        data = test_set(settings, dataset, split)
        number, figures, recorded = evaluate_version(settings, version, data)
    except (OcropsError, PipelineError) as exc:
        raise fail(str(exc), 1) from exc
    if data.quarantined:
        err.print(f"[yellow]{data.quarantined} rows of {dataset} failed validation and were left out[/]")
    recall = figures.term_recall_postprocessed
    console.print(f"{settings.mlflow.registered_model} version {number} on {figures.name}: {figures.lines} lines, "
                  f"test set {figures.digest[:12]}: CER {100 * figures.cer:.2f}% raw, "
                  f"{100 * figures.cer_postprocessed:.2f}% post-processed"
                  + ("" if recall is None else f", term recall {100 * recall:.2f}%")
                  + ("" if figures.reviewed_cer is None else
                     f"; the {figures.reviewed_lines} reviewed lines: CER {100 * figures.reviewed_cer:.2f}%"))
    console.print(f"recorded on the version (tag evaluation.{figures.digest[:12]}, and its description)" if recorded
                  else "the test set it was registered with: its registered figures stay as they are")


@app.command("ui")
def ui(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 5000,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Start the MLflow UI on the project's tracking store (runs, metrics, registry, aliases)."""
    import os
    import sys

    from ocrops.tracking import tracking_uri

    settings = load_params(params)
    uri = tracking_uri(settings)
    if uri.startswith(("http://", "https://")):
        console.print(f"the tracking store is a server already: open {uri}")
        return
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    console.print(f"MLflow UI for {uri} on http://{host}:{port} (Ctrl+C stops it)")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
           "--artifacts-destination", str(Path(settings.mlflow.artifact_root).resolve()),
           "--host", host, "--port", str(port)]
    become(cmd, os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"})


@app.command("mlflow", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                         "allow_interspersed_args": False})


def mlflow_cmd(ctx: typer.Context) -> None:
    """Run the `mlflow` command on the project's store: `ocrops mlflow models serve -m models:/ocrops@champion
    --env-manager local` (MLFLOW_TRACKING_URI from ./params.yaml unless it is set already)."""
    import os
    import sys

    from ocrops.tracking import tracking_uri

    uri = tracking_uri(load_params(Path("params.yaml")))
    env = os.environ | {"MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    become([sys.executable, "-m", "mlflow", *ctx.args], env)
