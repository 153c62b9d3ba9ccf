"""Hostile PDFs against a real `bentoml serve`: a thousand pages, a page of 20,000 x 20,000 points, encrypted,
truncated, and one carrying JavaScript (an endless loop, run at open) and an embedded executable. Each is refused
fast with its code, or read within the limits, never a 500; the service keeps answering other clients while they
come; and the script never runs (PDFium renders without a form environment)."""

from __future__ import annotations

import io
import threading
import time

import pytest
import requests
from hostile import encrypted_pdf

from conftest import line_image, serve
from reliability_report import record

pytestmark = pytest.mark.integration

NO_LIMIT = {"OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}


@pytest.fixture(scope="module")
def url(bento):
    with serve(bento, **NO_LIMIT) as base:
        yield base


def blank_pdf(pages: int, width_pt: float = 595, height_pt: float = 842) -> bytes:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(width_pt, height_pt).close()
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


def with_script_and_attachment() -> bytes:
    """One page of text, an OpenAction JavaScript that would loop for ever, and an embedded .exe (no xref table:
    readers rebuild it, as they do for many real files)."""
    content = b"BT /F1 24 Tf 20 40 Td (Hemoglobin 135 g/L) Tj ET"
    objects = [
        b"<</Type/Catalog/Pages 2 0 R/OpenAction 5 0 R/Names<</JavaScript<</Names[(run) 5 0 R]>>"
        b"/EmbeddedFiles<</Names[(setup.exe) 6 0 R]>>>>>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 360 100]/Contents 4 0 R/Resources<</Font<</F1 7 0 R>>>>"
        b"/AA<</O 5 0 R>>>>",
        b"<</Length %d>>stream\n" % len(content) + content + b"\nendstream",
        b"<</S/JavaScript/JS(while (true) {})>>",
        b"<</Type/Filespec/F(setup.exe)/EF<</F 8 0 R>>>>",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
        b"<</Type/EmbeddedFile/Length 4>>stream\nMZ\x90\x00\nendstream",
    ]
    body = b"%PDF-1.7\n" + b"".join(b"%d 0 obj\n" % (k + 1) + o + b"\nendobj\n" for k, o in enumerate(objects))
    return body + b"trailer\n<</Root 1 0 R/Size 9>>\n%%EOF\n"


def send(url: str, data: bytes, name: str = "doc.pdf") -> tuple[requests.Response, float]:
    started = time.perf_counter()
    answer = requests.post(url + "/ocr", files={"file": (name, data, "application/pdf")}, timeout=120)
    return answer, time.perf_counter() - started


def test_hostile_pdfs_are_refused_fast_or_read_within_the_limits(url):
    thousand = blank_pdf(1000)
    huge = blank_pdf(1, 20_000, 20_000)
    script = with_script_and_attachment()
    cases = {"1000 pages": thousand, "20000 pt page": huge, "encrypted": encrypted_pdf(),
             "truncated": script[: len(script) // 2], "javascript + embedded exe": script}
    answers = {name: send(url, data) for name, data in cases.items()}
    record("hostile_pdfs", **{name: {"status": a.status_code, "code": a.json().get("code"), "seconds": round(s, 2)}
                              for name, (a, s) in answers.items()})
    assert all(a.status_code < 500 for a, _ in answers.values()), {k: a.text[:200] for k, (a, _) in answers.items()}
    thousand_answer, thousand_s = answers["1000 pages"]
    assert thousand_answer.status_code == 413 and thousand_answer.json()["code"] == 5001 and thousand_s < 5
    assert "1000 pages" in thousand_answer.json()["message"]
    encrypted_answer, _ = answers["encrypted"]
    assert encrypted_answer.json()["code"] == 4001 and "encrypted" in encrypted_answer.json()["message"]
    assert answers["truncated"][0].status_code in (200, 400)  # PDFium may rebuild half a file; no 500 either way
    # a page the size of a wall is rendered at the resolution that fits the pixel limits, not refused
    huge_answer, _ = answers["20000 pt page"]
    assert huge_answer.status_code == 200, huge_answer.text
    [page] = huge_answer.json()["pages"]
    assert page["dpi"] < 30 and page["width"] * page["height"] <= 25_000_000
    assert {w["code"] for w in huge_answer.json()["warnings"]} == {"no_text"}  # blank, and said so
    # the script's endless loop would hold the request to its deadline; the page is read, the .exe ignored
    script_answer, script_s = answers["javascript + embedded exe"]
    assert script_answer.status_code == 200 and "Hemoglobin" in script_answer.json()["text"], script_answer.text
    assert script_s < 20


def test_the_service_answers_others_while_hostile_pdfs_arrive(url):
    """Eight clients send the thousand-page PDF and the wall-sized page over and over; a line sent meanwhile is
    answered as fast as a page's work allows (the renders run in the bounded lanes, never on the event loop)."""
    hostile = [blank_pdf(1000), blank_pdf(1, 20_000, 20_000)]
    stop = threading.Event()
    statuses: list[int] = []

    def attacker(k: int) -> None:
        while not stop.is_set():
            statuses.append(send(url, hostile[k % 2])[0].status_code)

    threads = [threading.Thread(target=attacker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    line = io.BytesIO()
    line_image("Creatinine 88 umol/L", (320, 40)).save(line, format="PNG")
    taken = []
    try:
        time.sleep(2)
        for _ in range(10):
            started = time.perf_counter()
            answer = requests.post(url + "/ocr", files={"file": ("l.png", line.getvalue(), "image/png")},
                                   data={"mode": "line"}, timeout=60)
            taken.append(time.perf_counter() - started)
            assert answer.status_code in (200, 503), answer.text  # shed with 503 under load, never stuck
    finally:
        stop.set()
        for t in threads:
            t.join()
    record("hostile_pdfs", concurrent_attack_requests=len(statuses), attack_statuses=sorted(set(statuses)),
           line_slowest_s=round(max(taken), 2), line_median_s=round(sorted(taken)[len(taken) // 2], 2))
    assert set(statuses) <= {200, 413, 503} and 500 not in statuses
    assert sorted(taken)[len(taken) // 2] < 5, taken
