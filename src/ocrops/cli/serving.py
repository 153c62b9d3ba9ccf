"""The service commands: serve the Bento, read images through it, its container image."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ocrops.cli.common import ParamsOpt, ReadMode, become, console, err, fail
from ocrops.config import Params, load_params
from ocrops.data.files import write_json
from ocrops.formats import Format

app = typer.Typer()
container_app = typer.Typer(no_args_is_help=True, help="The Bento's container image, with podman (make container).")


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

    settings = load_params(params) if params.exists() else Params()  # --bento TAG needs no project
    bentoml_home(Path.cwd(), settings.paths.package.bentoml_home)
    if bento is None:
        manifest = settings.paths.package.bento
        if not manifest.exists():
            raise fail("no bento built yet: run `dvc repro package` (or pass --bento TAG)")
        bento = json.loads(manifest.read_text(encoding="utf-8"))["bento"]
    console.print(f"serving {bento} on http://{host}:{port} (Ctrl+C stops it)")
    become([str(BIN / "bentoml"), "serve", bento, "--host", host, "--port", str(port)],
            os.environ | {"BENTOML_DO_NOT_TRACK": "true", CAPTURE_URL_ENV: capture_url(settings)})


CAPTURE_URL_ENV = "OCROPS_SERVE_CAPTURE__URL"


def capture_url(settings: Params) -> str:
    """The capture store as the service must be told it: `bentoml serve` runs from the Bento's own folder, so a
    relative folder (the default, ``captures``) is made absolute here, in the project, where ``ocrops review
    push`` and ``ocrops monitor`` look for it; a URL (s3://...) is passed as it is."""
    import os

    url = os.environ.get(CAPTURE_URL_ENV) or settings.serve.capture.url
    return url if "://" in url else str(Path(url).resolve())


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    hocr = "hocr"
    alto = "alto"
    page_xml = "page-xml"
    pdf = "pdf"


@app.command("predict")
def predict(
    images: Annotated[list[Path] | None, typer.Argument(help="image files or folders of images")] = None,
    url: Annotated[str, typer.Option(envvar="OCROPS_URL", help="the ocrops service")] = "http://127.0.0.1:3000",
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="text, JSON Lines (one object per image: "
                                              "text, lines, boxes, confidences), or a file per image: hOCR, ALTO, "
                                              "PAGE-XML (a file per page, beside its picture), searchable PDF")]
    = OutputFormat.text,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="folder for the hocr, alto, page-xml and pdf "
                                             "files (default: standard output, for one file)")] = None,
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
        raise fail("no images: pass files or folders, or --files-from")
    to_files = fmt not in (OutputFormat.text, OutputFormat.json)
    if to_files and out is None and (len(files) > 1 or fmt is OutputFormat.page_xml):
        raise fail(f"--format {fmt.value} writes files: pass --out FOLDER")
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
            elif to_files:
                _write(Format(fmt.value), answer.model_dump(mode="json"), path, out)
            else:
                if len(files) > 1:
                    print(f"==> {path} <==")
                print(answer.text, flush=True)
    if failed:
        err.print(f"{failed} of {len(files)} image(s) failed")
        raise typer.Exit(1)


def _write(fmt: Format, answer: dict, path: Path, out: Path | None) -> None:
    """One image's answer as ``fmt``, made here from the JSON answer and the file that was sent."""
    import sys

    from ocrops.formats import render
    from ocrops.formats.files import save

    if out is None:
        sys.stdout.buffer.write(render(fmt, answer, path.read_bytes(), path.name).body)
        sys.stdout.buffer.flush()
    else:
        for written in save(fmt, answer, path.read_bytes(), path.name, out):
            err.print(f"wrote {written}", highlight=False)


def _packaged(settings: Params) -> dict:
    from ocrops.stages.package import bentoml_home

    bentoml_home(Path.cwd(), settings.paths.package.bentoml_home)
    manifest = settings.paths.package.bento
    if not manifest.exists():
        raise fail("no bento built yet: run `dvc repro package`")
    return json.loads(manifest.read_text(encoding="utf-8"))


@container_app.command("build")
def container_build(params: ParamsOpt = Path("params.yaml")) -> None:
    """Build the package stage's Bento into an image, offline (deploy/container: base from Debian's packages)."""
    from ocrops.harness.container import build

    settings = load_params(params)
    facts = build(_packaged(settings)["bento"])
    write_json(settings.paths.container.image, facts)
    console.print(f"built {facts['image']}: {facts['image_bytes'] / 1e6:.0f} MB (base {facts['base_image']} "
                  f"{facts['base_image_bytes'] / 1e6:.0f} MB) in {facts['image_build_s']:.0f} s; run it with "
                  f"`CONTAINERS_CONF=$PWD/deploy/container/containers.conf podman run --rm -p 3000:3000 "
                  f"{facts['image']}`")


@container_app.command("check")
def container_check(
    report: Annotated[Path | None, typer.Option(help="where the figures go (default: paths.container.report)")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Run the built image and hold it to `bentoml serve` and the registered CER; figures to REPORT."""
    from ocrops.harness.container import check

    settings = load_params(params)
    manifest, image_file = _packaged(settings), settings.paths.container.image
    if not image_file.exists():
        raise fail("no image built yet: run `ocrops container build` (make container)")
    built = json.loads(image_file.read_text(encoding="utf-8"))
    result = check(built["image"], manifest["bento"], settings.paths.validate_.accepted, manifest["evaluation"])
    write_json(report or settings.paths.container.report, built | result)
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
        raise fail(f"the container failed: {', '.join(failed)}", 1)
