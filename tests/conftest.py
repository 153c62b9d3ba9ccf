"""Shared fixtures: small datasets built on the fly, and deliberately broken images."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocrops.env import quiet_telemetry

quiet_telemetry()
os.environ.setdefault("GIT_AUTHOR_NAME", "ocrops-tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@ocrops.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "ocrops-tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@ocrops.invalid")

PROJECT = Path(__file__).resolve().parents[1]

# Great Expectations imports pyspark.sql.connect where pyspark is installed; that module takes an interpreter whose
# __main__ has neither spec nor file for a doctest run and exits (status 0) when grpc is missing. pytest-xdist's
# workers are such interpreters: give their __main__ a name so that collecting a module importing GX goes on.
_MAIN = sys.modules["__main__"]
if getattr(_MAIN, "__spec__", None) is None and not hasattr(_MAIN, "__file__"):
    _MAIN.__file__ = "<pytest-xdist worker>"


def _reliability():
    import importlib.util

    path = PROJECT / "tests" / "reliability" / "reliability_report.py"
    spec = importlib.util.spec_from_file_location("reliability_report", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_sessionstart(session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        _reliability().clear()


def pytest_sessionfinish(session, exitstatus) -> None:
    """The reliability suite's sections -> test-artifacts/reliability.json, once all workers are done."""
    if not hasattr(session.config, "workerinput"):
        _reliability().merge()


def clone_project(root: Path) -> Path:
    """A copy of the project's tracked (and not ignored) files in a new git repository, as a fresh clone is."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        if (PROJECT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, root / name)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "clone"]):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    return root


def params_at(root: Path, **sections):
    """Params (defaults plus ``sections``) whose every stage file lies under ``root``, as params.yaml lays them
    out under the project."""
    from ocrops.config import Params, Paths

    layout = Paths().model_dump(by_alias=True, mode="json")
    paths = {stage: {key: str(root / value) for key, value in files.items()} for stage, files in layout.items()}
    return Params.model_validate({**sections, "paths": paths})


def with_paths(params, **stages):
    """``params`` with some stage files elsewhere: ``with_paths(p, train={"model": dir}, evaluate={...})``."""
    from ocrops.config import Paths

    layout = params.paths.model_dump(by_alias=True)
    for stage, files in stages.items():
        layout[stage].update(files)
    return params.model_copy(update={"paths": Paths.model_validate(layout)})


def line_image(text: str, size: tuple[int, int] = (220, 40), paper: int = 240) -> Image.Image:
    image = Image.new("RGB", size, (paper, paper, paper))
    ImageDraw.Draw(image).text((6, 8), text, fill=(10, 10, 10), font=ImageFont.load_default(size=20))
    return image


def write_dataset(root: Path, rows: list[tuple[str, str, str | None]], fmt: str = "PNG") -> Path:
    """rows: (image name, text, split); each image shows its own text, so all differ."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    with (root / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for name, text, split in rows:
            line_image(f"{name} {text}").save(root / "images" / name, format=fmt)
            record = {"image": f"images/{name}", "text": text}
            if split:
                record["split"] = split
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return root


def write_pages(root: Path, splits: list[str], seed: int = 7) -> Path:
    """A small page dataset (pages.jsonl + images/) rendered from the sample recipe, one page per split given;
    pages are smaller than the sample's A4 so stages read them quickly."""
    from ocrops.data.page_synth import synthesize_pages
    from ocrops.data.pages import read_pages
    from ocrops.data.pages import write_pages as write_rows
    from ocrops.data.synth import PageSpec, load_recipe

    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml")
    spec = PageSpec(count=len(splits), seed=seed, size=(900, 1100), lines=(24, 30), photo_share=0.5)
    synthesize_pages(recipe.model_copy(update={"pages": spec}), root, progress=False)
    rows, _ = read_pages(root)
    write_rows(root, [type(row)(row.image, row.lines, split, row.ignore, extra=row.extra)
                      for row, split in zip(rows, splits, strict=True)])
    return root


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """12 valid rows: 8 train, 2 val, 2 test."""
    splits = ["train"] * 8 + ["val"] * 2 + ["test"] * 2
    rows = [(f"{i:03d}.png", f"血常规 WBC {i}.5 ㎍/L", s) for i, s in enumerate(splits)]
    return write_dataset(tmp_path / "dataset", rows)


def png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header declares width x height (a decompression bomb's shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * min(height, 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated_png() -> bytes:
    import io

    buf = io.BytesIO()
    line_image("truncated").save(buf, format="PNG")
    data = buf.getvalue()
    return data[: len(data) // 2]


@pytest.fixture(scope="module")
def bento(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """A built bento of the pretrained default base in a temporary BentoML home: (tag, env to serve it with)."""
    root = tmp_path_factory.mktemp("bento")
    env = {"BENTOML_HOME": str(root / "home")}
    result = subprocess.run([sys.executable, str(PROJECT / "tests" / "bento_fixture.py"), str(root)],
                            capture_output=True, text=True, env=os.environ | {"BENTOML_DO_NOT_TRACK": "true"} | env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1], env


def batch_frame(parquet: Path, under: str):
    """A batch job's Parquet rows indexed by their file's path below the folder ``under`` names, ``FILE#N`` for
    page N of a PDF or TIFF."""
    import pandas as pd

    frame = pd.read_parquet(parquet)
    frame["file"] = [path.split(f"/{under}/", 1)[1] + (f"#{int(page)}" if pd.notna(page) else "")
                     for path, page in zip(frame["path"], frame["page"], strict=True)]
    return frame.set_index("file")


def served_differences(frame, answers: dict) -> list[tuple]:
    """Where a batch job's Parquet rows (``frame``, indexed by file, ``FILE#N`` for page N of a document) and the
    service's answers for the same files (OCRResult, or ServiceError for a file it refused) differ: text, mode,
    each line's text and box, error code."""
    from ocrops.client import ServiceError

    differ = []
    for name, row in frame.iterrows():
        file, _, page = name.partition("#")
        served = answers[file]
        if isinstance(served, ServiceError):
            if int(served.code) != row["error_code"]:
                differ.append((name, int(served.code), row["error_code"]))
            continue
        if page:
            entry = served.pages[int(page) - 1]
            text, mode, theirs = entry["text"], "page", [(line["text"], line["box"]) for line in entry["lines"]]
        else:
            text, mode, theirs = served.text, served.mode, [(line.text, line.box) for line in served.lines]
        ours = [(line["text"], [list(p) for p in line["box"]]) for line in row["lines"]]
        if (text, mode, theirs) != (row["text"], row["mode"], ours):
            differ.append((name, text[:80], row["text"][:80]))
    return differ


def serve(bento: tuple[str, dict[str, str]], **env):
    """``with serve(bento, OCROPS_SERVE_X=...) as url:`` a real ``bentoml serve`` on 127.0.0.1."""
    from ocrops.harness.server import bento_server

    tag, base = bento
    return bento_server(tag, env=base | {k: str(v) for k, v in env.items()}, timeout_s=240)
