"""ocrops.client and `ocrops predict` against a real `bentoml serve` of the pretrained PP-OCRv4 bento: reading,
the async client, and retries on 429 and 503 that wait for the Retry-After the service sends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import PROJECT, line_image, serve
from ocrops.client import AsyncOCRClient, OCRClient, ServiceError
from ocrops.errors import ErrorCode
from ocrops.evaluation.metrics import cer

pytestmark = pytest.mark.integration

LINES = ["Hemoglobin 135 g/L", "Creatinine 88 umol/L", "Glucose 5.4 mmol/L", "Sodium 141 mmol/L"]
OCROPS = Path(sys.executable).parent / "ocrops"


@pytest.fixture(scope="module")
def url(bento):
    with serve(bento, OCROPS_SERVE_RATE_LIMIT__RATE=1000, OCROPS_SERVE_RATE_LIMIT__BURST=1000) as base:
        yield base


@pytest.fixture(scope="module")
def line_files(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("lines")
    paths = []
    for i, text in enumerate(LINES):
        path = root / f"{i}.png"
        line_image(text, (320, 40)).save(path)
        paths.append(path)
    return paths


def test_client_reads_lines_and_pages(url, line_files, tmp_path: Path):
    page = Image.new("RGB", (640, 300), "white")
    draw, font = ImageDraw.Draw(page), ImageFont.load_default(size=28)
    for i, text in enumerate(LINES[:2]):
        draw.text((40, 60 + i * 120), text, fill="black", font=font)
    with OCRClient(url) as client:
        assert client.ready()
        line = client.ocr(line_files[0])
        assert line.mode == "line" and cer([line.text], [LINES[0]]) < 0.2, line.text
        assert line.source == str(line_files[0]) and line.attempts == 1
        assert line.model == {"name": "ocrops", "version": "1", "alias": "champion"}
        read = client.ocr(page)  # a PIL image goes up as PNG
        assert read.mode == "page" and len(read.lines) == 2, read
        assert cer(read.text.split("\n"), LINES[:2]) < 0.2
        assert read.lines[0].box[0][1] < read.lines[1].box[0][1]  # top line first, boxes in page pixels
        assert client.model()["engine"] == "ort_fp32"


def test_client_raises_the_service_code_and_keeps_going_in_ocr_many(url, line_files, tmp_path: Path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    with OCRClient(url) as client:
        with pytest.raises(ServiceError) as caught:
            client.ocr(broken)
        assert caught.value.code == ErrorCode.UNREADABLE_IMAGE and caught.value.status == 400
        assert caught.value.request_id and caught.value.attempts == 1  # a 4001 is not retried
        answers = list(client.ocr_many([line_files[0], broken, tmp_path / "missing.png", line_files[1]]))
    assert [type(a).__name__ for a in answers] == ["OCRResult", "ServiceError", "ServiceError", "OCRResult"]
    assert answers[2].code == ErrorCode.UNREADABLE_IMAGE and "missing.png" in answers[2].message
    assert cer([answers[3].text], [LINES[1]]) < 0.2  # in input order


def test_async_client_reads_concurrently_in_order(url, line_files):
    async def run():
        async with AsyncOCRClient(url) as client:
            assert await client.ready()
            return [a async for a in client.ocr_many(line_files * 3, concurrency=6)]

    answers = asyncio.run(run())
    assert len(answers) == 12
    assert cer([a.text for a in answers], LINES * 3) < 0.2


def test_ocrops_predict_prints_text_and_json_lines(url, line_files, tmp_path: Path):
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(str(p) for p in line_files[2:]) + "\n")
    text = subprocess.run([str(OCROPS), "predict", str(line_files[0]), "--url", url], capture_output=True, text=True,
                          timeout=120)
    assert text.returncode == 0, text.stderr
    assert cer([text.stdout.strip()], [LINES[0]]) < 0.2
    many = subprocess.run([str(OCROPS), "predict", str(line_files[1]), "--files-from", str(listing), "-f", "json",
                           "--url", url], capture_output=True, text=True, timeout=120)
    assert many.returncode == 0, many.stderr
    rows = [json.loads(line) for line in many.stdout.splitlines()]
    assert [r["source"] for r in rows] == [str(p) for p in line_files[1:]]
    assert cer([r["text"] for r in rows], LINES[1:]) < 0.2
    assert all(r["lines"][0]["confidence"] > 0.5 for r in rows)
    failed = subprocess.run([str(OCROPS), "predict", str(line_files[0]), str(tmp_path / "missing.png"), "--url", url],
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and "[4001]" in failed.stderr and "1 of 2" in failed.stderr
    assert f"==> {line_files[0]} <==" in failed.stdout  # the good one is still printed


def test_ocrops_predict_reads_the_sample_test_images(url, tmp_path: Path):
    """The sample's held-out test split through the service, as a user would send it; the pretrained model
    served must read it as well as the evaluate stage measured offline for the same model."""
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(str(PROJECT))  # the workspace's data/, else the in-repo DVC remote (a fresh clone)
    rows = [json.loads(line) for line in fs.read_text("data/labels.jsonl").splitlines()]
    test = [r for r in rows if r.get("split") == "test"]
    fs.get([f"data/{r['image']}" for r in test], str(tmp_path) + "/")
    listing = tmp_path / "test.txt"
    listing.write_text("\n".join(str(tmp_path / Path(r["image"]).name) for r in test) + "\n")
    run = subprocess.run([str(OCROPS), "predict", "--files-from", str(listing), "--format", "json", "--url", url,
                          "--concurrency", "8"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(answers) == len(test) == 172
    assert all(a["mode"] == "line" and len(a["lines"]) == 1 for a in answers)
    served = cer([a["lines"][0]["raw_text"] for a in answers], [r["text"] for r in test])
    offline = json.loads((PROJECT / "reports" / "evaluate.json").read_text())["test"]["base"]["cer"]
    # not equal to the digit: a line's reading depends on how its batch pads it (offline batches of the
    # evaluate stage, the service's own batches); measured 0.2 (one line per call) to 0.6 points apart
    assert abs(served - offline) < 0.01, (served, offline)


def test_a_429_is_retried_after_its_retry_after(bento, line_files):
    # one request per second per client: back-to-back requests must wait for their turn
    with serve(bento, OCROPS_SERVE_RATE_LIMIT__RATE=1, OCROPS_SERVE_RATE_LIMIT__BURST=1,
               OCROPS_SERVE_RETRY_AFTER_S=1) as base:
        with OCRClient(base, retries=0) as impatient:
            impatient.ocr(line_files[0])
            with pytest.raises(ServiceError) as caught:
                impatient.ocr(line_files[0])
        assert caught.value.code == ErrorCode.RATE_LIMITED and caught.value.status == 429
        assert caught.value.retry_after and caught.value.retry_after >= 1
        with OCRClient(base, retries=5) as patient:
            started = time.monotonic()
            answers = [patient.ocr(p) for p in line_files[:3]]
            elapsed = time.monotonic() - started
    assert cer([a.text for a in answers], LINES[:3]) < 0.2
    assert sum(a.attempts - 1 for a in answers) >= 2  # at least the 2nd and 3rd were refused once
    assert elapsed >= 2.0  # each retry waited for the Retry-After instead of hammering


def test_a_503_is_retried_until_the_queue_has_room(bento, line_files):
    # one request in flight at a time, and every model call takes 2 s: a second request finds the queue full
    with serve(bento, MAX_QUEUE_SIZE=1, OCROPS_INJECT_FAULT="hang:2", OCROPS_SERVE_WARMUP_BATCHES=0,
               OCROPS_SERVE_RETRY_AFTER_S=1) as base:
        with OCRClient(base, retries=8, timeout=30) as client:
            first: dict = {}
            worker = threading.Thread(target=lambda: first.update(answer=client.ocr(line_files[0])))
            worker.start()
            time.sleep(0.5)  # the first request is in flight
            with OCRClient(base, retries=0) as impatient, pytest.raises(ServiceError) as caught:
                impatient.ocr(line_files[1])
            assert caught.value.code == ErrorCode.QUEUE_FULL and caught.value.status == 503
            assert caught.value.retry_after == 1
            second = client.ocr(line_files[1])
            worker.join(60)
        with OCRClient(base, timeout=0.5, retries=3) as hasty, pytest.raises(ServiceError) as late:
            hasty.ocr(line_files[2])
    assert first["answer"].attempts == 1
    assert second.attempts >= 2 and cer([second.text], [LINES[1]]) < 0.2
    assert late.value.code == ErrorCode.TIMEOUT and late.value.attempts == 1  # a timeout is not retried


def test_ocrops_predict_writes_documents_in_any_format(url, tmp_path: Path):
    """`ocrops predict scan.pdf -f page-xml -o DIR` leaves a folder `ocrops data import-pages` takes back with the
    same lines and boxes; `-f pdf` writes a searchable PDF whose text pdftotext gives back; ALTO is valid."""
    from lxml import etree
    from output_checks import pdftotext, schema

    from conftest import write_pages
    from ocrops.data.documents import pdf_from_images
    from ocrops.data.images import load_rgb
    from ocrops.data.pages import read_pages

    root = write_pages(tmp_path / "pages", ["test", "test"], seed=3)
    rows, _ = read_pages(root)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(pdf_from_images([load_rgb(root / row.image) for row in rows], dpi=200))

    def predict(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(OCROPS), "predict", str(scan), "--url", url, *args], capture_output=True,
                              timeout=300)

    answer = json.loads(predict("-f", "json").stdout)
    assert [p["page"] for p in answer["pages"]] == [1, 2]
    archive = predict("-f", "page-xml", "-o", str(tmp_path / "archive"))
    assert archive.returncode == 0, archive.stderr.decode()
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == [
        "scan_p0001.png", "scan_p0001.xml", "scan_p0002.png", "scan_p0002.xml"]
    imported = subprocess.run([str(OCROPS), "data", "import-pages", str(tmp_path / "archive"), "--out",
                               str(tmp_path / "dataset"), "--params", str(tmp_path / "none.yaml")],
                              capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr
    back, _ = read_pages(tmp_path / "dataset")
    back = sorted(back, key=lambda r: r.extra["source"])
    assert [[line.text for line in row.lines] for row in back] == [
        [line["text"] for line in page["lines"]] for page in answer["pages"]]
    for row, page in zip(back, answer["pages"], strict=True):
        assert all(abs(a - b) <= 0.5 for line, want in zip(row.lines, page["lines"], strict=True)
                   for p, q in zip(line.points, want["box"], strict=True) for a, b in zip(p, q, strict=True))
    searchable = predict("-f", "pdf")
    assert searchable.returncode == 0 and searchable.stdout.startswith(b"%PDF-"), searchable.stderr.decode()
    assert [t.split() for t in pdftotext(searchable.stdout, tmp_path, "-raw").split("\f")[:2]] == [
        p["text"].split() for p in answer["pages"]]
    alto = predict("-f", "alto", "-o", str(tmp_path / "alto"))
    assert alto.returncode == 0, alto.stderr.decode()
    schema("alto-4-4.xsd").assertValid(etree.parse(str(tmp_path / "alto" / "scan.alto.xml")))
    refused = predict("-f", "page-xml")
    assert refused.returncode != 0 and b"--out" in refused.stderr
