"""`ocrops batch` on a real local Spark (local[2]): about 200 files (line images, whole pages, a scanned PDF and a
multi-page TIFF read as a row per page, corrupt files and an encrypted PDF) read by a registered model's pyfunc as
a Spark UDF into Parquet, equal to what the served Bento of the same model answers for the same files; a run
killed midway is rerun and completes without duplicates; a third run reads nothing."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hostile import encrypted_pdf
from lxml import etree

from conftest import (
    PROJECT,
    batch_frame,
    line_image,
    png_with_declared_size,
    serve,
    served_differences,
    truncated_png,
    write_pages,
)

pytestmark = pytest.mark.integration

WORDS = ["Hemoglobin", "Creatinine", "Glucose", "Potassium", "Sodium", "Albumin", "Bilirubin", "Platelets"]
UNITS = ["g/L", "umol/L", "mmol/L", "x10^9/L", "U/L", "%"]
LINES, PAGES = 190, 3
CORRUPT = {"bad/truncated.png": 4001, "bad/not-an-image.jpg": 4001, "bad/bomb.png": 5001, "bad/locked.pdf": 4001}
DOCUMENTS = {"docs/report.pdf": 2, "docs/scan.tif": 2}  # file -> pages
IMAGES = LINES + PAGES + len(CORRUPT) + len(DOCUMENTS)  # files
ROWS = IMAGES - len(DOCUMENTS) + sum(DOCUMENTS.values())
PER_PART = 50
REPORT = PROJECT / "test-artifacts" / "batch-test.json"  # this run's throughput: Spark local[2] vs the Bento


def ocrops() -> str:
    return str(Path(sys.executable).parent / "ocrops")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """scans/: line images of varied width, whole pages (some photographed), a 2-page scanned PDF, a 2-page TIFF
    of text lines, corrupt files, and a text file that is not read."""
    root = tmp_path_factory.mktemp("archive")
    scans = root / "scans"
    (scans / "lines").mkdir(parents=True)
    rng = random.Random(3)
    for i in range(LINES):
        text = f"{rng.choice(WORDS)} {rng.randint(1, 400)}.{rng.randint(0, 9)} {rng.choice(UNITS)}"
        line_image(text, size=(rng.randint(230, 420), 40)).save(scans / "lines" / f"{i:03d}.png")
    pages = write_pages(root / "pages", ["test"] * PAGES)
    (scans / "pages").mkdir()
    for page in sorted(p for p in (pages / "images").iterdir() if p.suffix in (".png", ".jpg")):
        shutil.copy2(page, scans / "pages" / page.name)
    from PIL import Image

    from ocrops.data.documents import pdf_from_images

    (scans / "docs").mkdir()
    with Image.open(scans / "pages" / sorted(os.listdir(scans / "pages"))[0]) as one, \
            Image.open(scans / "pages" / sorted(os.listdir(scans / "pages"))[1]) as two:
        (scans / "docs" / "report.pdf").write_bytes(pdf_from_images([one.convert("RGB"), two.convert("RGB")]))
    strips = [line_image("Sodium 141 mmol/L", size=(360, 40)), line_image("Albumin 38 g/L", size=(300, 40))]
    strips[0].save(scans / "docs" / "scan.tif", save_all=True, append_images=strips[1:])
    (scans / "bad").mkdir()
    (scans / "bad" / "locked.pdf").write_bytes(encrypted_pdf())
    (scans / "bad" / "truncated.png").write_bytes(truncated_png())
    (scans / "bad" / "not-an-image.jpg").write_bytes(b"this is a scanned note, honestly")
    (scans / "bad" / "bomb.png").write_bytes(png_with_declared_size(20_000, 20_000))
    (scans / "notes.txt").write_text("not an image: not listed", encoding="utf-8")
    assert len(list((scans / "pages").iterdir())) == PAGES
    return scans


@pytest.fixture(scope="module")
def registered(bento, tmp_path_factory) -> Path:
    """The Bento's model (pretrained PP-OCRv4 and its post-processing chain) logged as the project's pyfunc and
    registered as ocrops@champion in a fresh MLflow store; returns the params.yaml pointing at that store."""
    bento_root = Path(bento[1]["BENTOML_HOME"]).parent
    store = tmp_path_factory.mktemp("mlflow")
    values = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    values["mlflow"] |= {"tracking_uri": f"sqlite:///{store}/mlflow.db", "artifact_root": str(store / "artifacts")}
    values["batch"] = {"images_per_part": PER_PART, "batch_size": 8}
    params = store / "params.yaml"
    params.write_text(yaml.safe_dump(values), encoding="utf-8")
    script = """
import sys
from pathlib import Path
import mlflow
from mlflow import MlflowClient
from ocrops.config import load_params
from ocrops.families import saved_family
from ocrops.postprocess import Postprocessor
from ocrops.registry.pyfunc import log_pyfunc
from ocrops.tracking import setup

root, params = Path(sys.argv[1]), load_params(sys.argv[2])
setup(params)
model_dir = root / "mlflow" / "model"
example = Path(sys.argv[3])
with mlflow.start_run():
    info = log_pyfunc(model_dir, Postprocessor.load(root / "mlflow"), example, saved_family(model_dir))
mv = mlflow.register_model(info.model_uri, "ocrops")
MlflowClient().set_registered_model_alias("ocrops", "champion", mv.version)
"""
    example = store / "example.png"
    line_image("Hemoglobin 135 g/L").save(example)
    result = subprocess.run([sys.executable, "-c", script, str(bento_root), str(params), str(example)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return params


def batch(params: Path, scans: Path, out: Path, summary: Path, *more: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([ocrops(), "batch", str(scans), str(out), "--params", str(params), "--master",
                             "local[2]", "--summary", str(summary), *more], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)


def read_parquet(out: Path) -> pd.DataFrame:
    return batch_frame(out, "scans")


@pytest.fixture(scope="module")
def killed_and_rerun(registered, archive, tmp_path_factory) -> tuple[Path, dict, dict]:
    """A job killed (SIGKILL to it, its JVM and its Python workers) once its first part is committed, then run
    again to the end, then a third time writing ALTO for every file: (output, the rerun's summary, the third
    run's summary)."""
    root = tmp_path_factory.mktemp("batch")
    out = root / "out"
    job = batch(registered, archive, out, root / "killed.json", start_new_session=True)
    deadline = time.monotonic() + 400
    while not (out / "part=00000" / "_SUCCESS").exists():
        assert job.poll() is None, f"the job ended before its first part: {job.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, "no part committed in 400 s"
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=30)
    assert not (root / "killed.json").exists()
    summaries = []
    for name, more in (("rerun", ()), ("again", ("--format", "alto", "--documents", str(root / "alto")))):
        job = batch(registered, archive, out, root / f"{name}.json", *more)
        log, _ = job.communicate(timeout=600)
        assert job.returncode == 0, log[-4000:]
        summaries.append(json.loads((root / f"{name}.json").read_text(encoding="utf-8")))
    return out, summaries[0], summaries[1]


def test_rerun_after_a_kill_completes_without_duplicates(killed_and_rerun):
    out, rerun, again = killed_and_rerun
    frame = pd.read_parquet(out)
    assert len(frame) == ROWS and not frame.duplicated(["path", "page"]).any()
    assert frame["path"].nunique() == IMAGES
    assert not any(p.endswith("notes.txt") for p in frame["path"])
    # the committed part was kept, whatever was in flight at the kill was read again
    assert rerun["images"] == IMAGES and rerun["skipped"] >= PER_PART
    assert rerun["skipped"] + rerun["read"] == IMAGES and rerun["rows"] <= ROWS
    assert sorted(int(p.name.split("=")[1]) for p in out.glob("part=*")) == list(range(len(list(out.glob("part=*")))))
    assert all((p / "_SUCCESS").exists() for p in out.glob("part=*"))
    assert again["read"] == 0 and again["skipped"] == IMAGES and again["parts_written"] == 0
    manifest = json.loads((out / "_ocrops_batch.json").read_text(encoding="utf-8"))
    assert manifest["model"] == {"name": "ocrops", "version": "1", "alias": "champion"}


def test_corrupt_images_carry_their_codes_and_the_rest_is_read(killed_and_rerun):
    frame = read_parquet(killed_and_rerun[0])
    for name, code in CORRUPT.items():
        assert frame.loc[name, "error_code"] == code, frame.loc[name, "error"]
        assert frame.loc[name, "error"] and frame.loc[name, "text"] == ""
    good = frame.drop(index=list(CORRUPT))
    assert good["error_code"].isna().all() and good["error"].isna().all()
    assert (good["text"].str.len() > 0).all()
    assert set(good["mode"]) == {"line", "page"}
    pages = good[(good["mode"] == "page") & good["page"].isna()]  # the page images; documents: the test below
    assert len(pages) == PAGES and all(len(lines) >= 10 for lines in pages["lines"])
    assert set(frame["model_version"]) == {"1"} and set(frame["model_alias"]) == {"champion"}


def test_documents_are_read_as_a_row_per_page(killed_and_rerun):
    frame = read_parquet(killed_and_rerun[0])
    for file, count in DOCUMENTS.items():
        rows = frame.loc[[f"{file}#{n}" for n in range(1, count + 1)]]
        assert rows["error_code"].isna().all(), rows["error"].tolist()
        # a page is read as a page, even the line-shaped pages of the TIFF
        assert set(rows["mode"]) == {"page"} and (rows["text"].str.len() > 0).all()
    assert "Sodium" in frame.loc["docs/scan.tif#1", "text"]
    assert frame["page"].isna().sum() == IMAGES - len(DOCUMENTS)


def test_the_batch_job_writes_a_valid_alto_per_file_as_its_rows_read(killed_and_rerun):
    from output_checks import schema

    out, _, again = killed_and_rerun
    folder = out.parent / "alto"
    assert again["documents"]["files"] == IMAGES - len(CORRUPT)
    assert again["documents"]["skipped"] == {"4001": 3, "5001": 1}
    frame = read_parquet(out)
    alto = schema("alto-4-4.xsd")
    for file in ("docs/report.pdf", "docs/scan.tif", "pages/p00000.jpg", "lines/007.png"):
        written = folder / Path(file).parent / (Path(file).stem + ".alto.xml")
        document = etree.parse(str(written))
        assert alto.validate(document), alto.error_log
        pages = document.getroot().findall(".//{*}Page")
        rows = ([frame.loc[f"{file}#{n}"] for n in range(1, DOCUMENTS[file] + 1)] if file in DOCUMENTS
                else [frame.loc[file]])
        assert len(pages) == len(rows)
        for page, row in zip(pages, rows, strict=True):
            lines = [" ".join(s.get("CONTENT") for s in line.iter("{*}String")) for line in page.iter("{*}TextLine")]
            assert lines == [" ".join(line["text"].split()) for line in row["lines"]]
            assert (int(page.get("WIDTH")), int(page.get("HEIGHT"))) == (row["width"], row["height"])
    assert not (folder / "bad").exists()


def test_parquet_equals_the_served_bentos_answers(killed_and_rerun, bento, archive):
    """The same model behind `bentoml serve` (its exported ONNX engine, the service's page reader) answers every
    file as the batch job wrote it: text, each line's text and box, the error code of a corrupt file."""
    from ocrops.client import OCRClient, ServiceError

    out, rerun, _ = killed_and_rerun
    frame = read_parquet(out)
    files = sorted({name.partition("#")[0] for name in frame.index})
    with serve(bento) as url:
        started = time.perf_counter()
        answers = dict(zip(files, OCRClient(url, retries=0).ocr_many([archive / f for f in files], concurrency=2),
                           strict=True))
        served_s = time.perf_counter() - started
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({
        "images": len(files), "note": "one make test run, beside the other test worker on the same cores",
        "spark_local2": {"images": rerun["read"], "seconds": rerun["read_seconds"],
                         "images_per_s": rerun["images_per_s"], "images_per_part": PER_PART},
        "bento_concurrency2": {"images": len(files), "seconds": round(served_s, 2),
                               "images_per_s": round(len(files) / served_s, 2)}}, indent=2) + "\n", encoding="utf-8")
    differ = served_differences(frame, answers)
    assert not differ, differ[:5]
    assert sum(isinstance(a, ServiceError) for a in answers.values()) == len(CORRUPT)
