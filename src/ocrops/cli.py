"""The ``ocrops`` command, grouped by concern."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ocrops.config import Params, load_params
from ocrops.errors import OcropsError, PipelineError

app = typer.Typer(no_args_is_help=True, help="ocrops: an MLOps workflow for GLM-OCR.", pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Datasets: import, export, statistics, validation.")
app.add_typer(data_app, name="data")

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="params.yaml to read")]


class ImportFormat(StrEnum):
    pairs = "pairs"
    sharegpt = "sharegpt"
    page_xml = "page-xml"  # transcribed pages: every line cut out of its page image
    alto = "alto"


class ExportFormat(StrEnum):
    sharegpt = "sharegpt"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error[/] {escape(message)}")  # plain text: 'ocrops[spark]' is not a style
    return typer.Exit(code)


@data_app.command("import")
def data_import(
    source: Annotated[Path, typer.Argument(help="folder of NAME.png + NAME.gt.txt, a ShareGPT .json/.jsonl, or a "
                                                "folder of PAGE-XML / ALTO files beside their page images")],
    out: Annotated[Path, typer.Option("--out", "-o", help="dataset directory to create (page-xml/alto: or add to)")],
    fmt: Annotated[ImportFormat, typer.Option("--format", "-f")] = ImportFormat.pairs,
    encoding: Annotated[str, typer.Option(help="encoding of .gt.txt files")] = "utf-8",
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty --out")] = False,
    source_name: Annotated[str, typer.Option("--source-name", help="page-xml/alto: the collection, kept per row")] = "",
    licence: Annotated[str, typer.Option(help="page-xml/alto: its licence, kept per row (e.g. CC-BY-4.0)")] = "",
    url: Annotated[str, typer.Option(help="page-xml/alto: where it is published, kept per row")] = "",
    margin: Annotated[float, typer.Option(help="page-xml/alto: paper kept around each line, x its height")] = 0.0,
    max_lines: Annotated[int | None, typer.Option(help="page-xml/alto: whole pages (in hash order) up to this")] = None,
    skip: Annotated[list[str] | None, typer.Option(help="page-xml/alto: leave out lines holding this text")] = None,
    strip: Annotated[str, typer.Option(help="page-xml/alto: characters removed from the text (markers)")] = "",
    test_share: Annotated[float | None, typer.Option(help="share of pages in the test split (the rest: train); "
                                                          "default: params.yaml data.split")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Import a labeled folder, a ShareGPT file, or transcribed pages (as line crops) into the dataset contract."""
    from ocrops.config import SplitRatios
    from ocrops.data.importers import REJECTS_FILE, import_pairs, import_sharegpt
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
        else:
            if overwrite:
                _fresh(out, overwrite)
            if not source_name or not licence:
                raise _fail("page-xml/alto imports record their provenance: pass --source-name and --licence")
            result = import_page_lines(source, out, Provenance(source_name, licence, url), fmt.value,
                                       margin=margin, max_lines=max_lines,
                                       line_filter=LineFilter(tuple(skip or ()), strip), **kwargs)
    except (FileExistsError, NotADirectoryError, FileNotFoundError, json.JSONDecodeError) as exc:
        raise _fail(str(exc)) from exc
    console.print(f"imported [bold]{result.imported}[/] rows into {out} {result.splits}")
    if result.rejected:
        console.print(f"[yellow]{len(result.rejected)} entries not imported[/], listed in {out / REJECTS_FILE}:")
        for entry in result.rejected[:10]:
            console.print(f"  {entry['source']}: {entry['reason']}")


@data_app.command("export")
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


@data_app.command("stats")
def data_stats(
    dataset: Annotated[Path, typer.Argument(help="dataset directory")] = Path("data"),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Counts per split, label-length histogram and character set."""
    from ocrops.data.stats import dataset_stats
    from ocrops.stages.common import base_family

    found = base_family(load_params(params) if params.exists() else Params())
    family = found.name
    stats = dataset_stats(dataset, found.code().vocabulary())
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


@data_app.command("validate")
def data_validate(
    dataset: Annotated[Path | None, typer.Argument(help="dataset directory (default: data.path)")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Run the validation suite (the `validate` stage of dvc.yaml); reports go where params.yaml's
    paths.validate says."""
    from ocrops.stages import validate

    try:
        validate.run(load_params(params), dataset, console)
    except (OcropsError, PipelineError) as exc:
        raise _fail(str(exc), 1) from exc


synth_app = typer.Typer(no_args_is_help=True, help="Synthetic datasets from a recipe: text lines, whole pages.")
app.add_typer(synth_app, name="synth")


def _fresh(out: Path, overwrite: bool) -> None:
    import shutil

    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise _fail(f"{out} is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)


def _keep_recipe(spec, out: Path) -> None:
    import yaml

    (out / "recipe.yaml").write_text(
        yaml.safe_dump(spec.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )


def _given(**overrides) -> dict:
    """The options the user set (None: keep the recipe's value)."""
    return {k: v for k, v in overrides.items() if v is not None}


RecipeArg = Annotated[Path, typer.Argument(help="recipe YAML (see recipes/hospital.yaml)")]


@synth_app.command("lines")
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
    _fresh(out, overwrite)
    try:
        summary = synthesize(spec, out)
    except (FontNotFound, ValueError) as exc:
        raise _fail(str(exc)) from exc
    _keep_recipe(spec, out)
    console.print(f"rendered {summary.count} lines into {out}: splits {summary.splits}, fonts {summary.fonts}, "
                  f"{summary.lexicon_terms} lexicon terms, {summary.bytes / 1e6:.1f} MB")


@synth_app.command("pages")
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
        raise _fail(f"{recipe} has no terms: pages are rendered from a terms + templates recipe")
    pages = (spec.pages or PageSpec()).model_copy(update=_given(count=count, seed=seed))
    spec = spec.model_copy(update={"pages": pages})
    _fresh(out, overwrite)
    try:
        summary = synthesize_pages(spec, out)
    except (FontNotFound, ValueError) as exc:
        raise _fail(str(exc)) from exc
    _keep_recipe(spec, out)
    console.print(f"rendered {summary.count} pages ({summary.lines} lines; {summary.photos} photographed, "
                  f"{summary.exif} saved turned with an EXIF orientation) into {out}: splits {summary.splits}, "
                  f"{summary.bytes / 1e6:.1f} MB")


@data_app.command("import-pages")
def data_import_pages(
    source: Annotated[Path, typer.Argument(help="a folder of PAGE-XML files with their images, or a .json/.jsonl")],
    out: Annotated[Path, typer.Option("--out", "-o", help="page dataset directory to create")],
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty --out")] = False,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Import labeled pages (PAGE-XML, or JSON with text + points per line) into the page contract."""
    from ocrops.data.importers import REJECTS_FILE
    from ocrops.data.page_importers import import_page_json, import_page_xml

    ratios = load_params(params).data.split if params.exists() else None
    kwargs = {"ratios": ratios} if ratios else {}
    _fresh(out, overwrite)
    try:
        result = (import_page_xml(source, out, **kwargs) if source.is_dir()
                  else import_page_json(source, out, **kwargs))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise _fail(str(exc)) from exc
    console.print(f"imported [bold]{result.imported}[/] pages into {out} {result.splits}")
    if result.rejected:
        console.print(f"[yellow]{len(result.rejected)} entries not imported[/], listed in {out / REJECTS_FILE}")


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
        raise _fail(str(exc), 1) from exc
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
    from ocrops.reevaluation import evaluate_version, test_set

    settings = load_params(params)
    try:
        data = test_set(settings, dataset, split)
        number, figures, recorded = evaluate_version(settings, version, data)
    except (OcropsError, PipelineError) as exc:
        raise _fail(str(exc), 1) from exc
    if data.quarantined:
        err.print(f"[yellow]{data.quarantined} rows of {dataset} failed validation and were left out[/]")
    recall = figures.term_recall_postprocessed
    console.print(f"{settings.mlflow.registered_model} version {number} on {figures.name}: {figures.lines} lines, "
                  f"test set {figures.digest[:12]}: CER {100 * figures.cer:.2f}% raw, "
                  f"{100 * figures.cer_postprocessed:.2f}% post-processed"
                  + ("" if recall is None else f", term recall {100 * recall:.2f}%"))
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
    _become(cmd, os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"})


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
    _become([sys.executable, "-m", "mlflow", *ctx.args], env)


def main() -> None:  # pragma: no cover
    app()


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
    variants: Annotated[Path, typer.Option(help="YAML of train-param variants")] = Path("recipes/ablation.yaml"),
    only: Annotated[list[str] | None, typer.Option(help="run just this variant (repeatable)")] = None,
    max_test_cer: Annotated[float, typer.Option(help="domain test CER a variant must reach to be chosen")] = 0.005,
    max_minutes: Annotated[float, typer.Option(help="training time a variant may take to be chosen")] = 15.0,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Train variants of the train params and read each on the domain test split and the guard set
    (reports/ablation.json and .md; runs add to what is there). Needs `dvc repro validate general` first."""
    from ocrops.env import pin_kernels

    p = load_params(params)
    pin_kernels(p.train.threads)  # before torch is imported: the train stage's numerics, so its model is a variant's
    from ocrops.ablation import ablate, load_variants

    table = load_variants(variants)
    unknown = [name for name in only or [] if name not in table]
    if unknown:
        raise _fail(f"{variants} has no variant {', '.join(unknown)}; it has {', '.join(table)}")
    report = ablate(p, table, only, limits=(max_test_cer, max_minutes), progress=err.print)
    console.print(f"chosen (test CER <= {100 * max_test_cer:g} %, guard within {p.promote.max_general_cer_rise:g} "
                  f"points of the base, training <= {max_minutes:g} min): {report['chosen'] or 'none yet'}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 3000,
    bento: Annotated[str | None, typer.Option(help="bento tag; default: the package stage's")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Serve the Bento the package stage built (`bentoml serve` with the project's BentoML home)."""
    import os

    from ocrops.harness.server import BIN
    from ocrops.stages.package import bentoml_home

    bentoml_home(Path.cwd())
    if bento is None:
        manifest = load_params(params).paths.package.bento
        if not manifest.exists():
            raise _fail("no bento built yet: run `dvc repro package` (or pass --bento TAG)")
        bento = json.loads(manifest.read_text(encoding="utf-8"))["bento"]
    console.print(f"serving {bento} on http://{host}:{port} (Ctrl+C stops it)")
    _become([str(BIN / "bentoml"), "serve", bento, "--host", host, "--port", str(port)],
            os.environ | {"BENTOML_DO_NOT_TRACK": "true"})


def _become(cmd: list[str], env: dict[str, str]) -> None:
    """Replace this process with ``cmd``: signals from a process manager, ``timeout`` or Ctrl+C reach the server
    itself, and no server is left behind when ``ocrops`` is stopped."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class ReadMode(StrEnum):
    auto = "auto"
    line = "line"
    page = "page"


@app.command("predict")
def predict(
    images: Annotated[list[Path] | None, typer.Argument(help="image files or folders of images")] = None,
    url: Annotated[str, typer.Option(envvar="OCROPS_URL", help="the ocrops service")] = "http://127.0.0.1:3000",
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="text, or JSON Lines (one object per "
                                                                     "image: text, lines, boxes, confidences)")]
    = OutputFormat.text,
    mode: Annotated[ReadMode, typer.Option(help="auto: the service tells a line from a page")] = ReadMode.auto,
    files_from: Annotated[Path | None, typer.Option("--files-from", help="read image paths from this file, "
                                                                         "one per line ('-': stdin)")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="OCROPS_API_KEY", show_default=False,
                                                help="sent as Authorization: Bearer")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for one answer")] = 60.0,
    retries: Annotated[int, typer.Option(help="retries on 429/503, after the Retry-After the service sends")] = 5,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="requests in flight")] = 4,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", show_default="on a terminal, "
                                                  "for several images")] = None,
) -> None:
    """Read images through a running ocrops service (`ocrops serve`, or the deployed Bento)."""
    import sys

    from ocrops.client import OCRClient, ServiceError, image_files

    paths = list(images or [])
    if files_from is not None:
        listing = sys.stdin.read() if str(files_from) == "-" else files_from.read_text(encoding="utf-8")
        paths += [Path(line.strip()) for line in listing.splitlines() if line.strip()]
    files = image_files(paths)
    if not files:
        raise _fail("no images: pass files or folders, or --files-from")
    show_progress = (len(files) > 1 and None) if progress is None else progress
    failed = 0
    with OCRClient(url, api_key=api_key, timeout=timeout, retries=retries) as client:
        answers = client.ocr_many(files, mode=mode.value, concurrency=concurrency, progress=show_progress)
        for path, answer in zip(files, answers, strict=True):
            if isinstance(answer, ServiceError):
                failed += 1
                err.print(f"[bold red]error[/] {path}: {answer}", highlight=False)
                if fmt is OutputFormat.json:
                    print(json.dumps({"source": str(path), "error": answer.to_dict()}, ensure_ascii=False))
            elif fmt is OutputFormat.json:
                print(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False), flush=True)
            else:
                if len(files) > 1:
                    print(f"==> {path} <==")
                print(answer.text, flush=True)
    if failed:
        err.print(f"{failed} of {len(files)} image(s) failed")
        raise typer.Exit(1)


container_app = typer.Typer(no_args_is_help=True, help="The Bento's container image, with podman (make container).")
app.add_typer(container_app, name="container")
IMAGE_FILE = Path("outputs/container/image.json")


def _packaged(params: Path) -> dict:
    from ocrops.stages.package import bentoml_home

    bentoml_home(Path.cwd())
    manifest = load_params(params).paths.package.bento
    if not manifest.exists():
        raise _fail("no bento built yet: run `dvc repro package`")
    return json.loads(manifest.read_text(encoding="utf-8"))


@container_app.command("build")
def container_build(params: ParamsOpt = Path("params.yaml")) -> None:
    """Build the package stage's Bento into an image, offline (deploy/container: base from Debian's packages)."""
    from ocrops.harness.container import build

    facts = build(_packaged(params)["bento"])
    IMAGE_FILE.parent.mkdir(parents=True, exist_ok=True)
    IMAGE_FILE.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    console.print(f"built {facts['image']}: {facts['image_bytes'] / 1e6:.0f} MB (base {facts['base_image']} "
                  f"{facts['base_image_bytes'] / 1e6:.0f} MB) in {facts['image_build_s']:.0f} s; run it with "
                  f"`CONTAINERS_CONF=$PWD/deploy/container/containers.conf podman run --rm -p 3000:3000 "
                  f"{facts['image']}`")


@container_app.command("check")
def container_check(
    report: Annotated[Path, typer.Option(help="where the figures go")] = Path("reports/container.json"),
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Run the built image and hold it to `bentoml serve` and the registered CER; figures to REPORT."""
    from ocrops.harness.container import check

    manifest = _packaged(params)
    if not IMAGE_FILE.exists():
        raise _fail("no image built yet: run `ocrops container build` (make container)")
    built = json.loads(IMAGE_FILE.read_text(encoding="utf-8"))
    result = check(built["image"], manifest["bento"], load_params(params).paths.validate_.accepted,
                   manifest["evaluation"])
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(built | result, indent=2) + "\n", encoding="utf-8")
    console.print(f"{built['image']}: ready in {result['ready_s']} s as {result['user']} (uid {result['uid']}); "
                  f"{result['lines']} test lines, CER {result['container_cer']:.5f} (registered "
                  f"{result['registered_cer']}); {result['answers_equal_bentoml_serve']} of {result['lines']} "
                  f"answers equal to `bentoml serve`; /metrics {'answers' if result['metrics_answer'] else 'FAILED'}")
    failed = [what for what, ok in (("non-root user", result["uid"] != 0), ("/metrics", result["metrics_answer"]),
                                    ("answers equal to bentoml serve",
                                     result["answers_equal_bentoml_serve"] == result["lines"]),
                                    ("registered CER", result["cer_matches_registered"] or not result["same_test_set"]))
              if not ok]
    if failed:
        raise _fail(f"the container failed: {', '.join(failed)}", 1)


@app.command("batch")
def batch_cmd(
    source: Annotated[str, typer.Argument(help="folder or URI of images (anything Spark reads: s3a://, hdfs://...)")],
    output: Annotated[str, typer.Argument(help="folder or URI for the Parquet parts")],
    params: ParamsOpt = Path("params.yaml"),
    model: Annotated[str | None, typer.Option(help="NAME@ALIAS or NAME/VERSION (default: batch.alias)")] = None,
    master: Annotated[str | None, typer.Option(help="Spark master (default: batch.master)")] = None,
    mode: Annotated[ReadMode | None, typer.Option(help="default: batch.mode")] = None,
    restart: Annotated[bool, typer.Option(help="delete OUTPUT first instead of resuming")] = False,
    summary: Annotated[Path | None, typer.Option(help="also write what the run did as JSON here")] = None,
) -> None:
    """Read an archive of images with the registered model on Apache Spark, into Parquet; a rerun resumes."""
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError:
        raise _fail("ocrops batch runs on Apache Spark: pip install 'ocrops[pipeline,spark]' (and Java 17 or newer; "
                    "`make java` installs Debian's)") from None
    from ocrops.batch.job import run_batch, session
    from ocrops.batch.model import resolve
    from ocrops.config import BatchParams

    p = load_params(params)
    if mode is not None:
        p = p.model_copy(update={"batch": BatchParams.model_validate(p.batch.model_dump() | {"mode": mode.value})})
    try:
        found = resolve(p, model)
        console.print(f"batch: {found.name} version {found.version} ({found.alias or 'pinned'}) over {source}")
        spark = session(master or p.batch.master)
        try:
            done = run_batch(spark, p, found, source, output, restart=restart,
                             progress=lambda n, total: console.print(f"  {n}/{total} images read", highlight=False))
        finally:
            spark.stop()
    except OcropsError as exc:
        raise _fail(str(exc), 1) from exc
    result = done.to_dict()
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    errors = ", ".join(f"{n} x {code}" for code, n in done.errors.items()) or "none"
    console.print(f"batch: {done.read} read ({done.images_per_s} images/s), {done.skipped} already done, "
                  f"errors: {errors} -> {output}", highlight=False)


@app.command("gpu-check")
def gpu_check_cmd(
    report: Annotated[Path, typer.Option(help="where the results go")] = Path("reports/gpu-check.json"),
    budget: Annotated[float, typer.Option(help="seconds after which no further check starts")] = 420.0,
    only: Annotated[list[str] | None, typer.Option(help="run only these checks")] = None,
) -> None:
    """Run every GPU path once (CUDA, ONNX Runtime CUDA, TensorRT, bf16 LoRA, the two-service Bento); without a
    GPU each check is skipped with its reason."""
    from ocrops.gpu_check import run

    result = run(budget, only)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, check in result["checks"].items():
        detail = check.get("reason") or check.get("error") or ", ".join(
            f"{k} {v}" for k, v in check.items() if k not in ("status", "seconds", "traceback"))
        console.print(f"{name}: {check['status']} ({check['seconds']} s) {detail}", highlight=False)
    console.print(f"gpu-check: {result['summary']} -> {report}")
    if result["failed"]:
        raise typer.Exit(1)
