"""The ``ocrops data`` commands: import, export, statistics, validation of datasets."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ocrops.cli.common import ParamsOpt, console, err, fail, fresh, print_lines
from ocrops.config import Params, load_params
from ocrops.errors import OcropsError, PipelineError

app = typer.Typer(no_args_is_help=True, help="Datasets: import, export, statistics, validation.")


class ImportFormat(StrEnum):
    pairs = "pairs"
    sharegpt = "sharegpt"
    label_studio = "label-studio"  # Label Studio's JSON export of reviewed lines (`ocrops review pull`, offline)
    # transcribed pages with every line cut out of its page image (`data import-pages` keeps whole pages)
    page_xml_lines = "page-xml-lines"
    alto_lines = "alto-lines"
    page_xml = "page-xml"  # deprecated names of the two above
    alto = "alto"


# the transcribed-page formats, by the reader ocrops.data.line_importers has for them
PAGE_LINE_READERS = {ImportFormat.page_xml_lines: "page-xml", ImportFormat.alto_lines: "alto",
                     ImportFormat.page_xml: "page-xml", ImportFormat.alto: "alto"}


class ExportFormat(StrEnum):
    sharegpt = "sharegpt"


@app.command("import")
def data_import(
    source: Annotated[Path, typer.Argument(help="folder of NAME.png + NAME.gt.txt, a ShareGPT .json/.jsonl, a "
                                                "Label Studio JSON export, or a folder of PAGE-XML / ALTO files "
                                                "beside their page images")],
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset directory to create (pages: or add to)")],
    fmt: Annotated[ImportFormat, typer.Option("--format", "-f")] = ImportFormat.pairs,
    encoding: Annotated[str, typer.Option(help="encoding of .gt.txt files")] = "utf-8",
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty --out")] = False,
    source_name: Annotated[str, typer.Option("--source-name", help="pages: the collection, kept per row")] = "",
    licence: Annotated[str, typer.Option(help="pages: its licence, kept per row (e.g. CC-BY-4.0)")] = "",
    url: Annotated[str, typer.Option(help="pages: where it is published, kept per row")] = "",
    margin: Annotated[float, typer.Option(help="pages: paper kept around each line, x its height")] = 0.0,
    max_lines: Annotated[int | None, typer.Option(help="pages: whole pages (in hash order) up to this")] = None,
    skip: Annotated[list[str] | None, typer.Option(help="pages: leave out lines holding this text")] = None,
    strip: Annotated[str, typer.Option(help="pages: characters removed from the text (markers)")] = "",
    test_share: Annotated[float | None, typer.Option(help="share of pages in the test split (the rest: train); "
                                                          "default: params.yaml data.split")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Import a labeled folder, a ShareGPT file, or transcribed pages cut into line crops (``-f page-xml-lines``,
    ``-f alto-lines``) into the line dataset contract; ``data import-pages`` keeps pages whole."""
    from ocrops.config import SplitRatios
    from ocrops.data.importers import REJECTS_FILE, import_label_studio, import_pairs, import_sharegpt
    from ocrops.data.line_importers import LineFilter, Provenance, import_page_lines

    ratios = load_params(params).data.split if params.exists() else None
    if test_share is not None:
        ratios = SplitRatios(train=1 - test_share, val=0.0, test=test_share)
    kwargs = {"ratios": ratios} if ratios else {}
    try:
        if fmt is ImportFormat.pairs:
            result = import_pairs(source, out, encoding=encoding, overwrite=overwrite, **kwargs)
        elif fmt is ImportFormat.sharegpt:
            result = import_sharegpt(source, out, overwrite=overwrite, **kwargs)
        elif fmt is ImportFormat.label_studio:
            result = import_label_studio(json.loads(source.read_text(encoding="utf-8")), out, overwrite=overwrite,
                                         **kwargs)
        else:
            if fmt in (ImportFormat.page_xml, ImportFormat.alto):
                err.print(f"[yellow]deprecated[/] -f {fmt.value}: write -f {fmt.value}-lines (the pages are cut into "
                          "lines; `ocrops data import-pages` keeps whole pages)")
            if overwrite:
                fresh(out, overwrite)
            if not source_name or not licence:
                raise fail("transcribed-page imports record their provenance: pass --source-name and --licence")
            result = import_page_lines(source, out, Provenance(source_name, licence, url), PAGE_LINE_READERS[fmt],
                                       margin=margin, max_lines=max_lines,
                                       line_filter=LineFilter(tuple(skip or ()), strip), **kwargs)
    except (FileExistsError, NotADirectoryError, FileNotFoundError, json.JSONDecodeError) as exc:
        raise fail(str(exc)) from exc
    console.print(f"imported [bold]{result.imported}[/] rows into {out} {result.splits}")
    if result.rejected:
        console.print(f"[yellow]{len(result.rejected)} entries not imported[/], listed in {out / REJECTS_FILE}:")
        for entry in result.rejected[:10]:
            console.print(f"  {entry['source']}: {entry['reason']}")


@app.command("import-pages")
def data_import_pages(
    source: Annotated[Path, typer.Argument(help="a folder of PAGE-XML or ALTO files beside their images or PDFs, "
                                                "or a .json/.jsonl")],
    out: Annotated[Path, typer.Option("--out", "-o", help="page dataset directory to create")],
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty --out")] = False,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Import labeled pages whole (PAGE-XML or ALTO, a PDF's pages rendered; or JSON with text + points per line)
    into the page contract; ``data import -f page-xml-lines`` cuts them into lines instead."""
    from ocrops.data.importers import REJECTS_FILE
    from ocrops.data.page_importers import import_page_json, import_page_xml

    ratios = load_params(params).data.split if params.exists() else None
    kwargs = {"ratios": ratios} if ratios else {}
    fresh(out, overwrite)
    try:
        result = (import_page_xml(source, out, dpi=load_params(params).serve.pdf_dpi if params.exists() else 200,
                                  **kwargs) if source.is_dir()
                  else import_page_json(source, out, **kwargs))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise fail(str(exc)) from exc
    console.print(f"imported [bold]{result.imported}[/] pages into {out} {result.splits}")
    if result.rejected:
        console.print(f"[yellow]{len(result.rejected)} entries not imported[/], listed in {out / REJECTS_FILE}")


@app.command("export")
def data_export(
    dataset: Annotated[Path, typer.Argument(help="dataset directory")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output file")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.sharegpt,
    split: Annotated[str | None, typer.Option(help="only this split")] = None,
) -> None:
    """Export a dataset for other trainers (ShareGPT JSON for GLM-OCR recipes)."""
    from ocrops.data.exporters import export_sharegpt

    n = export_sharegpt(dataset, out, split=split)
    console.print(f"wrote {n} records to {out}")


@app.command("stats")
def data_stats(
    dataset: Annotated[Path, typer.Argument(help="dataset directory")] = Path("data"),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Counts per split, label-length histogram and character set."""
    from ocrops.data.stats import dataset_stats
    from ocrops.training.base import resolve_base

    base = resolve_base(load_params(params) if params.exists() else Params())
    family = base.family.name
    stats = dataset_stats(dataset, base.vocabulary())
    if as_json:
        console.print_json(json.dumps(stats.to_json(), ensure_ascii=False))
        return
    console.print(f"[bold]{dataset}[/]: {stats.rows} rows, {stats.unreadable_lines} unreadable lines, "
                  f"{stats.lexicon_terms} lexicon terms, {stats.charset_size} distinct characters")
    table = Table("split", "rows")
    for split, n in stats.splits.items():
        table.add_row(split, str(n))
    console.print(table)
    peak = max(stats.length_histogram.values()) or 1
    table = Table("label length", "rows", "")
    for bucket, n in stats.length_histogram.items():
        table.add_row(bucket, str(n), "█" * round(30 * n / peak))
    console.print(table)
    console.print("character classes: " + ", ".join(f"{k} {v}" for k, v in stats.char_classes.items()))
    console.print("most frequent: " + " ".join(f"{c}×{n}" for c, n in stats.top_chars))
    if stats.oov_chars:
        console.print(f"[yellow]outside the {family} vocabulary[/]: "
                      + " ".join(f"{c}×{n}" for c, n in stats.oov_chars.items()))


@app.command("validate")
def data_validate(
    dataset: Annotated[Path | None, typer.Argument(help="dataset directory (default: data.path)")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Run the validation suite (the `validate` stage of dvc.yaml); reports go where params.yaml's
    paths.validate says."""
    from ocrops.stages import validate

    settings = load_params(params)
    if dataset is not None:
        settings = settings.model_copy(update={"data": settings.data.model_copy(update={"path": str(dataset)})})
    try:
        figures = validate.run(settings)
    except PipelineError as exc:
        print_lines(validate.summary(exc.report) if exc.report else [])
        raise fail(str(exc), 1) from exc
    except OcropsError as exc:
        raise fail(str(exc), 1) from exc
    print_lines(validate.summary(figures))
