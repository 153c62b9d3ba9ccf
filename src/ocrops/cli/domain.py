"""The ``ocrops domain`` commands: several domains in one project, each a pipeline under pipelines/NAME/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ocrops.cli.common import console, fail
from ocrops.errors import OcropsError

app = typer.Typer(no_args_is_help=True, help="Domains: one pipeline, dataset and registered model each.")

ProjectOpt = Annotated[Path, typer.Option(help="the project's folder (its dvc.yaml and params.yaml)")]


@app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="the domain's name: its folder pipelines/NAME, its model ocrops-NAME")],
    source: Annotated[Path | None, typer.Option("--from", help="a dataset folder (labels.jsonl + images/) to "
                                                                "copy in as the domain's data")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Make a domain: pipelines/NAME/ with a params.yaml that extends the project's, the project's stages in its
    dvc.yaml, and its data (--from), versioned by DVC where the project is a DVC repository."""
    from ocrops.domains.scaffold import DATA_DIR, new_domain

    try:
        folder = new_domain(project, name, source)
    except OcropsError as exc:
        raise fail(str(exc)) from exc
    data = folder / DATA_DIR
    if data.exists() and (project / ".dvc").is_dir():
        from dvc.repo import Repo

        Repo(str(project)).add(str(data.relative_to(project)))
        console.print(f"versioned {data} ({data}.dvc)")
    console.print(f"made {folder}: params.yaml, dvc.yaml" + ("" if data.exists() else
                  f"; put the domain's lines in {data} (ocrops data import SOURCE --out {data}), then "
                  f"dvc add {data}"))
    console.print(f"train it: dvc repro {folder}/dvc.yaml (every domain: dvc repro -R pipelines/)")


@app.command("list")
def list_cmd(
    project: ProjectOpt = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (one object per domain)")] = False,
) -> None:
    """Each domain: its folder, data version, registered model, champion version and its figures."""
    import dataclasses
    import json

    from ocrops.domains.listing import list_domains

    found = list_domains(project)
    if as_json:
        console.print_json(json.dumps([dataclasses.asdict(d) | {"folder": str(d.folder)} for d in found]))
        return
    table = Table("domain", "folder", "data", "registered model", "champion", "test CER", "guard CER")
    for d in found:
        pct = [f"{100 * d.figures[k]:.2f} %" if k in d.figures else "-" for k in ("test_cer", "guard_cer")]
        table.add_row(d.name, str(d.folder), d.data, d.model, f"v{d.champion}" if d.champion else "none", *pct)
    console.print(table)


@app.command("sync")
def sync_cmd(project: ProjectOpt = Path(".")) -> None:
    """Write every domain's dvc.yaml again from the project's (after a change to the project's stages)."""
    from ocrops.domains.scaffold import sync

    changed = sync(project)
    console.print(f"{len(changed)} domain pipeline(s) written again: " + (", ".join(map(str, changed)) or "none"))
