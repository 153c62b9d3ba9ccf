"""The ``ocrops review`` commands: the lines the service doubted, to Label Studio and back as data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import ParamsOpt, console, err, fail

app = typer.Typer(no_args_is_help=True, help="Review in Label Studio: push captured lines, pull corrections.")

UrlOpt = Annotated[str, typer.Option("--url", envvar="LABEL_STUDIO_URL", help="Label Studio, e.g. "
                                                                               "http://127.0.0.1:8080")]
TokenOpt = Annotated[str, typer.Option("--token", envvar="LABEL_STUDIO_API_KEY", show_default=False,
                                       help="a legacy token or a personal access token (Account & Settings)")]
ProjectOpt = Annotated[str, typer.Option("--project", help="the Label Studio project's title (made if absent)")]


@app.command("push")
def review_push(
    captures: Annotated[str | None, typer.Option(help="the capture store (default: serve.capture.url)")] = None,
    images: Annotated[Path | None, typer.Option(help="instead: a folder of scans, photos or PDFs, read here with "
                                                     "--model as the service reads them")] = None,
    model: Annotated[str, typer.Option(help="with --images: the registered version that reads them")]
    = "@champion",
    every_line: Annotated[bool, typer.Option(help="with --images: every line, not only those needing review")]
    = False,
    url: UrlOpt = "http://127.0.0.1:8080",
    token: TokenOpt = "",
    project: ProjectOpt = "ocrops review",
    limit: Annotated[int | None, typer.Option(help="push at most this many new lines")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Each captured line not yet in the project becomes a task: its crop, its polygon, the model's reading to
    correct (pre-annotation with the model version). With --images, the lines of a folder's files that the
    model doubts (or all of them)."""
    import json
    import tempfile

    from ocrops.config import load_params
    from ocrops.data.captures import CaptureStore
    from ocrops.errors import OcropsError
    from ocrops.review.folder import read_folder
    from ocrops.review.labelstudio import LabelStudio
    from ocrops.review.loop import push_captures

    p = load_params(params)
    if captures is not None and images is not None:
        raise fail("give --captures STORE or --images DIR, not both")
    try:
        studio = LabelStudio(url, token or _missing_token())
        with tempfile.TemporaryDirectory(prefix="ocrops-review-") as tmp:
            store = captures or p.serve.capture.url
            if images is not None:
                store = tmp
                read = read_folder(images, CaptureStore(tmp), p, model, every_line)
                console.print(f"{read.files} files read with {read.model['name']} version {read.model['version']}: "
                              f"{read.lines} lines, {read.kept} to review")
                for bad in read.unreadable:
                    err.print(f"[yellow]not read: {json.dumps(bad, ensure_ascii=False)}[/]")
            pushed = push_captures(store, studio, project, limit)
    except OcropsError as exc:
        raise fail(f"{exc.code.value} {exc}") from exc
    console.print(f"{pushed.added} lines pushed to project {pushed.project} ({url}/projects/{pushed.project}); "
                  f"{pushed.already} were there already")


@app.command("pull")
def review_pull(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="a new dataset folder for the reviewed lines")]
    = None,
    append: Annotated[bool, typer.Option(help="add them to data.path instead (then `dvc add` it)")] = False,
    url: UrlOpt = "http://127.0.0.1:8080",
    token: TokenOpt = "",
    project: ProjectOpt = "ocrops review",
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """The project's finished tasks as dataset rows (``source: review``, model version, annotator hashed), what
    the validate stage would reject listed in review_quarantine.jsonl."""
    from ocrops.config import load_params
    from ocrops.data.validation import Vocabulary
    from ocrops.errors import OcropsError
    from ocrops.review.labelstudio import LabelStudio
    from ocrops.review.loop import pull_reviews, summary
    from ocrops.training.base import resolve_base

    p = load_params(params)
    if (out is None) == (not append):
        raise fail("give --out DIR (a new dataset) or --append (add to data.path)")
    target = Path(p.data.path) if append else out
    base = resolve_base(p)
    try:
        studio = LabelStudio(url, token or _missing_token())
        pulled = pull_reviews(studio, project, target, p, Vocabulary(base.family.name, base.vocabulary()), append)
    except OcropsError as exc:
        raise fail(f"{exc.code.value} {exc}") from exc
    except FileExistsError as exc:
        raise fail(str(exc)) from exc
    console.print(summary(pulled))
    if append:
        console.print(f"next: dvc add {p.data.path} && dvc repro")


def _missing_token() -> str:
    raise fail("give --token or set LABEL_STUDIO_API_KEY (Label Studio: Account & Settings, access token)")
