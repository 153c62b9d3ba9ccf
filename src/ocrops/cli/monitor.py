"""``ocrops monitor``: what the model is sent now, against the test split it was evaluated on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import ParamsOpt, console, fail

app = typer.Typer()


@app.command("monitor")
def monitor(
    source: Annotated[str, typer.Argument(help="a capture store (folder or fsspec URL), a batch job's Parquet, "
                                               "or a folder of line images")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="the HTML report (default: "
                                                                 "paths.monitor.report)")] = None,
    reference: Annotated[Path | None, typer.Option(help="the profile to compare with (default: the evaluate "
                                                        "stage's, paths.evaluate.drift_reference)")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """A verdict per feature (size, aspect, brightness, contrast, sharpness, text length, character classes,
    confidence): drift or not; an HTML report beside a JSON of the figures. Exits 1 when a feature drifted."""
    from ocrops.config import load_params
    from ocrops.evaluation.drift import compare, current_profile, report_html

    paths = load_params(params).paths
    reference, out = reference or paths.evaluate.drift_reference, out or paths.monitor.report
    if not reference.exists():
        raise fail(f"{reference} does not exist: run the evaluate stage (dvc repro evaluate) first")
    profile = json.loads(reference.read_text(encoding="utf-8"))["features"]
    current, kind = current_profile(source)
    if not current:
        raise fail(f"{source} holds nothing to profile (a capture store, a batch Parquet, or line images)")
    verdicts = compare(profile, current)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(verdicts, profile, current, f"ocrops monitor: {source} ({kind})"), encoding="utf-8")
    figures = {"source": source, "kind": kind, "drift": [v.feature for v in verdicts if v.drift],
               "features": {v.feature: {"reference_median": v.reference_median, "current_median": v.current_median,
                                        "ks": round(v.statistic, 4), "p": v.p_value, "drift": v.drift,
                                        "lines": v.current_lines} for v in verdicts}}
    out.with_suffix(".json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    for v in verdicts:
        console.print(f"{v.feature:>13}  {'DRIFT' if v.drift else 'ok':5}  KS {v.statistic:.3f}  p {v.p_value:.2g}  "
                      f"median {v.reference_median:.4g} -> {v.current_median:.4g}")
    console.print(f"report: {out}")
    if figures["drift"]:
        raise typer.Exit(1)
