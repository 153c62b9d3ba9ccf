"""``ocrops batch``: the registered model over an archive of images, on Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import ParamsOpt, ReadMode, console, fail
from ocrops.config import load_params
from ocrops.data.files import write_json
from ocrops.errors import OcropsError
from ocrops.formats import Format

app = typer.Typer()



@app.command("batch")
def batch_cmd(
    source: Annotated[str | None, typer.Argument(help="folder or URI of images and PDFs (anything Spark reads: "
                                                       "s3a://, hdfs://...)")] = None,
    output: Annotated[str | None, typer.Argument(help="folder or URI for the Parquet parts")] = None,
    params: ParamsOpt = Path("params.yaml"),
    model: Annotated[str | None, typer.Option(help="NAME@ALIAS or NAME/VERSION, e.g. a domain's "
                                                   "ocrops-lab@champion (default: batch.alias)")] = None,
    job: Annotated[str | None, typer.Option(help="instead of SOURCE OUTPUT: the job batch.jobs names (its input, "
                                                 "output and model), as the dvc stage batch@NAME runs it")] = None,
    master: Annotated[str | None, typer.Option(help="Spark master (default: batch.master)")] = None,
    mode: Annotated[ReadMode | None, typer.Option(help="default: batch.mode")] = None,
    restart: Annotated[bool, typer.Option(help="delete OUTPUT first instead of resuming")] = False,
    summary: Annotated[Path | None, typer.Option(help="also write what the run did as JSON here")] = None,
    fmt: Annotated[Format | None, typer.Option("--format", "-f", help="also write a document per file read, "
                                                       "in this format, under --documents")] = None,
    documents: Annotated[Path | None, typer.Option(help="folder for --format's documents (the archive's folders "
                                                        "mirrored)")] = None,
) -> None:
    """Read an archive of images and PDFs (a row per page) with the registered model on Apache Spark, into
    Parquet; a rerun resumes."""
    try:
        import pyspark  # noqa: F401
    except ModuleNotFoundError:
        raise fail("ocrops batch runs on Apache Spark: pip install 'ocrops[pipeline,spark]' (and Java 17 or newer; "
                    "`make java` installs Debian's)") from None
    from ocrops.batch.job import export_documents, run_batch, session
    from ocrops.batch.model import resolve
    from ocrops.config import BatchParams

    if (fmt is None) != (documents is None):
        raise fail("--format and --documents go together")
    p = load_params(params)
    if job is not None:
        if source is not None or output is not None:
            raise fail("--job takes its input and output from batch.jobs: give no SOURCE OUTPUT with it")
        if job not in p.batch.jobs:
            raise fail(f"batch.jobs has no job {job!r}; it has: {', '.join(p.batch.jobs) or 'none'}")
        source, output, model = p.batch.jobs[job].input, p.batch.jobs[job].output, model or p.batch.jobs[job].model
    if source is None or output is None:
        raise fail("give SOURCE and OUTPUT, or --job NAME")
    if mode is not None:
        p = p.model_copy(update={"batch": BatchParams.model_validate(p.batch.model_dump() | {"mode": mode.value})})
    try:
        found = resolve(p, model)
        console.print(f"batch: {found.name} version {found.version} ({found.alias or 'pinned'}) over {source}")
        spark = session(master or p.batch.master)
        try:
            done = run_batch(spark, p, found, source, output, restart=restart,
                             progress=lambda n, total: console.print(f"  {n}/{total} files read", highlight=False))
            written = export_documents(spark, output, fmt, documents) if fmt is not None else None
        finally:
            spark.stop()
    except OcropsError as exc:
        raise fail(str(exc), 1) from exc
    result = done.to_dict() | ({"documents": written.to_dict()} if written is not None else {})
    if summary is not None:
        write_json(summary, result)
    errors = ", ".join(f"{n} x {code}" for code, n in done.errors.items()) or "none"
    console.print(f"batch: {done.read} files read ({done.rows} rows, {done.images_per_s} files/s), {done.skipped} "
                  f"already done, errors: {errors} -> {output}", highlight=False)
    if written is not None:
        left = ", ".join(f"{n} x {code}" for code, n in written.skipped.items()) or "none"
        console.print(f"documents: {written.files} files as {written.format} -> {written.folder} (not read: {left})",
                      highlight=False)
