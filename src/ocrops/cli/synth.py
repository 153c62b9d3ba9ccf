"""The ``ocrops synth`` commands: synthetic datasets from a recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import console, fail, fresh

app = typer.Typer(no_args_is_help=True, help="Synthetic datasets from a recipe: text lines, whole pages.")


def _keep_recipe(spec, out: Path) -> None:
    import yaml

    (out / "recipe.yaml").write_text(
        yaml.safe_dump(spec.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


def _given(**overrides) -> dict:
    """The options the user set (None: keep the recipe's value)."""
    return {k: v for k, v in overrides.items() if v is not None}

RecipeArg = Annotated[Path, typer.Argument(help="recipe YAML (see recipes/hospital.yaml)")]


@app.command("lines")
def synth_lines(
    recipe: RecipeArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset directory to write")],
    count: Annotated[int | None, typer.Option(help="override the recipe's count")] = None,
    seed: Annotated[int | None, typer.Option(help="override the recipe's seed")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty --out")] = False,
) -> None:
    """Render a synthetic text-line dataset from domain terms and templates."""
    from ocrops.data.fonts import FontNotFound
    from ocrops.data.synth import load_recipe, synthesize

    spec = load_recipe(recipe).model_copy(update=_given(count=count, seed=seed))
    fresh(out, overwrite)
    try:
        summary = synthesize(spec, out)
    except (FontNotFound, ValueError) as exc:
        raise fail(str(exc)) from exc
    _keep_recipe(spec, out)
    console.print(f"rendered {summary.count} lines into {out}: splits {summary.splits}, fonts {summary.fonts}, "
                  f"{summary.lexicon_terms} lexicon terms, {summary.bytes / 1e6:.1f} MB")


@app.command("pages")
def synth_pages(
    recipe: RecipeArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="page dataset directory to write")],
    count: Annotated[int | None, typer.Option(help="override the recipe's pages.count")] = None,
    seed: Annotated[int | None, typer.Option(help="override the recipe's pages.seed")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty --out")] = False,
) -> None:
    """Render whole report pages (header, patient block, results table, stamps), scanned or photographed."""
    from ocrops.data.fonts import FontNotFound
    from ocrops.data.page_synth import synthesize_pages
    from ocrops.data.synth import PageSpec, load_recipe

    spec = load_recipe(recipe)
    if spec.terms is None:
        raise fail(f"{recipe} has no terms: pages are rendered from a terms + templates recipe")
    pages = (spec.pages or PageSpec()).model_copy(update=_given(count=count, seed=seed))
    spec = spec.model_copy(update={"pages": pages})
    fresh(out, overwrite)
    try:
        summary = synthesize_pages(spec, out)
    except (FontNotFound, ValueError) as exc:
        raise fail(str(exc)) from exc
    _keep_recipe(spec, out)
    console.print(f"rendered {summary.count} pages ({summary.lines} lines; {summary.photos} photographed, "
                  f"{summary.exif} saved turned with an EXIF orientation) into {out}: splits {summary.splits}, "
                  f"{summary.bytes / 1e6:.1f} MB")
