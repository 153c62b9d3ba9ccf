"""The ``ocrops review`` commands: the lines the service doubted, to Label Studio and back as data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import ParamsOpt, console, fail

app = typer.Typer(no_args_is_help=True, help="Review in Label Studio: push captured lines, pull corrections.")

UrlOpt = Annotated[str, typer.Option("--url", envvar="LABEL_STUDIO_URL", help="Label Studio, e.g. "
                                                                               "http://127.0.0.1:8080")]
TokenOpt = Annotated[str, typer.Option("--token", envvar="LABEL_STUDIO_API_KEY", show_default=False,
                                       help="a legacy token or a personal access token (Account & Settings)")]
ProjectOpt = Annotated[str, typer.Option("--project", help="the Label Studio project's title (made if absent)")]


@app.command("push")
def review_push(
    captures: Annotated[str | None, typer.Option(help="the capture store (default: serve.capture.url)")] = None,
    url: UrlOpt = "http://127.0.0.1:8080",
    token: TokenOpt = "",
    project: ProjectOpt = "ocrops review",
    limit: Annotated[int | None, typer.Option(help="push at most this many new lines")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Each captured line not yet in the project becomes a task: its crop, its polygon, the model's reading to
    correct (pre-annotation with the model version)."""
    from ocrops.config import load_params
    from ocrops.errors import OcropsError
    from ocrops.review.labelstudio import LabelStudio
    from ocrops.review.loop import push_captures

    store = captures or load_params(params).serve.capture.url
    try:
        studio = LabelStudio(url, token or _missing_token())
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
