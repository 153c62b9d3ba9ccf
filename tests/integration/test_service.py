"""The Bento over HTTP: a real `bentoml serve` of a built bento on 127.0.0.1 (pretrained PP-OCRv4, no
training), every endpoint's happy path, every error code with its request id, API keys, rate limits,
adaptive batching seen in /metrics (injected faults: tests/reliability/test_serving_faults.py),
and the real glmocr SDK parsing a page through the layout-parsing endpoint."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from output_checks import assert_words_on_their_lines, pdftotext, schema
from PIL import Image, ImageDraw, ImageFont

from conftest import line_image, png_with_declared_size, serve, truncated_png, write_pages
from image_variants import LOSSY, variants, with_orientation
from ocrops.evaluation.metrics import cer

pytestmark = pytest.mark.integration

LINES = ["Hemoglobin 135 g/L", "Creatinine 88 umol/L", "Glucose 5.4 mmol/L"]


@pytest.fixture(scope="module")
def two(bento):
    """The same bento in the two-service topology (the GPU's: a recognizer process with adaptive batching)."""
    with serve(bento, OCROPS_SERVE_TOPOLOGY="two", OCROPS_SERVE_RATE_LIMIT__RATE=1000,
               OCROPS_SERVE_RATE_LIMIT__BURST=1000) as base:
        yield base


@pytest.fixture(scope="module")
def url(bento):
    # answers, not latency, are checked here: the other test worker (a training, a Spark job) shares the two
    # cores, and eight 40-line pages at once may then take longer than the default 20 s deadline
    with serve(bento, OCROPS_SERVE_RATE_LIMIT__RATE=1000, OCROPS_SERVE_RATE_LIMIT__BURST=1000,
               OCROPS_SERVE_BODY_IDLE_S=8, OCROPS_SERVE_BODY_TIMEOUT_S=8, OCROPS_SERVE_TIMEOUT_S=60) as base:
        yield base


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def page() -> tuple[Image.Image, list[int]]:
    """Three lines on a page; returns it and each line's vertical centre."""
    image = Image.new("RGB", (640, 360), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=28)
    centres = []
    for i, text in enumerate(LINES):
        y = 50 + i * 110
        draw.text((40, y), text, fill="black", font=font)
        centres.append(y + 16)
    return image, centres


TESTS = ["Hemoglobin", "Creatinine", "Glucose", "Potassium", "Sodium", "Albumin", "Urea", "Calcium"]


def dense_page(n: int, pitch: int = 24) -> tuple[Image.Image, list[str]]:
    """A page of ``n`` printed result lines, one under another."""
    image = Image.new("RGB", (1200, 40 + n * pitch), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=16)
    texts = [f"{i + 1:03d} {TESTS[i % len(TESTS)]} {100 + 7 * i % 90}.{i % 10} mmol/L" for i in range(n)]
    for i, text in enumerate(texts):
        draw.text((40, 20 + i * pitch), text, fill="black", font=font)
    return image, texts


def post(base: str, path: str, body: dict, **kwargs) -> requests.Response:
    return requests.post(base + path, json=body, timeout=60, **kwargs)


# -- happy paths -----------------------------------------------------------------------------------


def test_probes_answer(url):
    for probe in ("/healthz", "/livez", "/readyz"):
        assert requests.get(url + probe, timeout=10).status_code == 200


def test_model_card_names_the_version_and_the_engine(url):
    card = requests.post(url + "/model", json={}, timeout=30).json()
    assert card["mlflow"]["version"] == "1" and card["mlflow"]["alias"] == "champion"
    assert card["engine"] == "ort_fp32"  # this machine: no TensorRT, no CUDA provider
    assert set(card["skipped_engines"]) == {"tensorrt", "ort_cuda"}
    assert card["topology"] == "one"  # no GPU: the engine runs in the API process


def test_ocr_reads_a_line_sent_as_base64(url):
    answer = post(url, "/ocr", {"image": b64(png(line_image(LINES[0], (320, 40))))})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mode"] == "line" and len(body["lines"]) == 1
    assert cer([body["text"]], [LINES[0]]) < 0.2, body["text"]
    assert body["model"] == {"name": "ocrops", "version": "1", "alias": "champion"}
    assert body["request_id"] == answer.headers["x-request-id"]
    assert {"decode_ms", "recognize_ms", "total_ms"} <= set(body["timings"])


def test_ocr_reads_a_multipart_upload(url):
    files = {"file": ("line.png", png(line_image(LINES[1], (320, 40))), "image/png")}
    answer = requests.post(url + "/ocr", files=files, timeout=60)
    assert answer.status_code == 200, answer.text
    assert cer([answer.json()["text"]], [LINES[1]]) < 0.2


def test_ocr_reads_a_page_line_by_line_with_boxes(url):
    image, centres = page()
    answer = post(url, "/ocr", {"image": b64(png(image))})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mode"] == "page" and len(body["lines"]) == 3, body
    for line, expected, centre in zip(body["lines"], LINES, centres, strict=True):
        ys = [p[1] for p in line["box"]]
        assert min(ys) <= centre <= max(ys)
        assert cer([line["text"]], [expected]) < 0.2, line["text"]


def test_a_scanned_pdf_reads_as_its_page_images(url, tmp_path: Path):
    """Three sample pages (scans and photos) as a 200 dpi PDF, read as the same pages sent as images."""
    from ocrops.data.documents import pdf_from_images
    from ocrops.data.images import load_rgb
    from ocrops.data.pages import read_pages

    root = write_pages(tmp_path, ["test"] * 3)
    rows, _ = read_pages(root)
    # the photos are stored sideways with an EXIF orientation; a scanner's PDF holds its pages upright
    images = [load_rgb(root / row.image) for row in rows]
    truth = ["\n".join(line.text for line in row.lines) for row in rows]
    as_images = [post(url, "/ocr", {"image": b64((root / row.image).read_bytes())}).json() for row in rows]
    files = {"file": ("scan.pdf", pdf_from_images(images, dpi=200), "application/pdf")}
    answer = requests.post(url + "/ocr", files=files, timeout=120)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [p["page"] for p in body["pages"]] == [1, 2, 3] and body["text"].count("\f") == 2
    assert [(p["width"], p["height"]) for p in body["pages"]] == [(i.width, i.height) for i in images]
    assert {line["page"] for line in body["lines"]} == {1, 2, 3}
    pdf_cer = cer([p["text"] for p in body["pages"]], truth)
    image_cer = cer([a["text"] for a in as_images], truth)
    print(f"scanned PDF: page CER {pdf_cer:.4f}, the same pages as images {image_cer:.4f}")
    # the pages are stored losslessly at the rendering dpi: PDFium gives back their very pixels
    assert [p["text"] for p in body["pages"]] == [a["text"] for a in as_images] and pdf_cer == image_cer
    # the same file back as a searchable PDF: its own pages with the answer's text on them, word by word
    searchable = requests.post(url + "/ocr", files=files, data={"format": "pdf"}, timeout=120)
    assert searchable.status_code == 200, searchable.text
    assert searchable.headers["content-type"] == "application/pdf"
    assert "scan.pdf" in searchable.headers["content-disposition"]
    pages = pdftotext(searchable.content, tmp_path, "-raw").split("\f")[:3]
    assert [t.split() for t in pages] == [p["text"].split() for p in body["pages"]]
    assert_words_on_their_lines(searchable.content, [(None, p) for p in body["pages"]], body["pages"][0]["dpi"],
                                tmp_path)


def test_pages_turned_without_exif_are_read_upright(url, tmp_path: Path):
    """Sample test pages turned 90, 180 and 270 degrees, no EXIF tag to say so: each is turned back (the answer
    says by how much), its boxes are in the upright page, and it reads as the upright page does (page CER within
    0.5 points; the issue's bar)."""
    from ocrops.data.geometry import turn
    from ocrops.data.images import load_rgb
    from ocrops.data.pages import read_pages

    root = write_pages(tmp_path, ["test"] * 3, seed=13)
    rows, _ = read_pages(root)
    pictures = [load_rgb(root / row.image) for row in rows]
    truth = ["\n".join(line.text for line in row.lines) for row in rows]
    upright = [post(url, "/ocr", {"image": b64(png(p))}).json() for p in pictures]
    assert all(a["rotation"] == 0 for a in upright)
    upright_cer = cer([a["text"] for a in upright], truth)
    for degrees in (90, 180, 270):
        turned = [post(url, "/ocr", {"image": b64(png(turn(p, degrees)))}).json() for p in pictures]
        turned_cer = cer([a["text"] for a in turned], truth)
        print(f"turned {degrees}: page CER {turned_cer:.4f}, upright {upright_cer:.4f}")
        assert [a["rotation"] for a in turned] == [(360 - degrees) % 360] * 3
        assert [(a["width"], a["height"]) for a in turned] == [p.size for p in pictures]
        assert abs(turned_cer - upright_cer) <= 0.005, (degrees, turned_cer, upright_cer)
    # the same page as a PDF page: its searchable PDF shows it upright, the text on its lines
    searchable = requests.post(url + "/ocr", files={"file": ("turned.png", png(turn(pictures[0], 90)), "image/png")},
                               data={"format": "pdf"}, timeout=120)
    assert searchable.status_code == 200, searchable.text
    assert_words_on_their_lines(searchable.content, [(None, upright[0])], 300, tmp_path)


def test_ocr_answers_in_the_format_asked_for(url, tmp_path: Path):
    """``format`` or the Accept header: hOCR, ALTO and PAGE-XML valid as their users check them, plain text."""
    from hocr_spec import HocrValidator
    from lxml import etree

    image, _ = page()
    body = {"image": b64(png(image))}
    answer = post(url, "/ocr", body).json()
    alto = requests.post(url + "/ocr", json=body, headers={"Accept": "application/alto+xml"}, timeout=60)
    assert alto.status_code == 200 and alto.headers["content-type"] == "application/alto+xml", alto.text
    schema("alto-4-4.xsd").assertValid(etree.fromstring(alto.content))
    page_xml = post(url, "/ocr", {**body, "format": "page-xml"})
    assert page_xml.headers["content-type"] == "application/vnd.prima.page+xml"
    document = etree.fromstring(page_xml.content)
    schema("pagecontent-2019-07-15.xsd").assertValid(document)
    assert [e.text for e in document.findall(".//{*}TextLine/{*}TextEquiv/{*}Unicode")] == [
        line["text"] for line in answer["lines"]]
    (tmp_path / "page.hocr").write_bytes(post(url, "/ocr", {**body, "format": "hocr"}).content)
    report = HocrValidator("standard").validate(str(tmp_path / "page.hocr"), parse_strict=True)
    assert report.is_valid(), report.format("text")
    text = requests.post(url + "/ocr", json=body, headers={"Accept": "text/plain"}, timeout=60)
    assert text.headers["content-type"].startswith("text/plain") and text.text == answer["text"] + "\n"
    unknown = post(url, "/ocr", {**body, "format": "docx"})
    assert unknown.status_code == 400 and unknown.json()["code"] == 4002, unknown.text


def test_a_born_digital_pdf_is_read_against_its_own_text(url):
    """A PDF with text drawn by a PDF library: the text it carries is the ground truth."""
    import pypdfium2 as pdfium
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842))
    for k in range(2):
        pdf.setFont("Helvetica", 13)
        for i, text in enumerate(LINES):
            pdf.drawString(72, 760 - 40 * i, f"{text} ({k + 1}.{i + 1})")
        pdf.showPage()
    pdf.save()
    document = pdfium.PdfDocument(out.getvalue())
    truth = [document[k].get_textpage().get_text_bounded().replace("\r\n", "\n") for k in range(len(document))]
    document.close()
    body = post(url, "/ocr", {"image": b64(out.getvalue())}).json()
    got = [p["text"] for p in body["pages"]]
    print(f"born-digital PDF: CER {cer(got, truth):.4f} over {sum(map(len, truth))} characters")
    assert cer(got, truth) < 0.05, (got, truth)


def test_documents_the_service_refuses_say_why(url):
    from reportlab.pdfgen import canvas

    def made(pages: int = 1, encrypt: str | None = None) -> bytes:
        out = io.BytesIO()
        pdf = canvas.Canvas(out, encrypt=encrypt)
        for _ in range(pages):
            pdf.drawString(72, 700, "x")
            pdf.showPage()
        pdf.save()
        return out.getvalue()

    cases = {"encrypted": (made(encrypt="secret"), 4001, "encrypted"),
             "truncated": (made()[:300], 4001, "unreadable PDF"),
             "too many pages": (made(pages=21), 5001, "21 pages exceeds 20")}
    for name, (data, code, words) in cases.items():
        answer = post(url, "/ocr", {"image": b64(data)})
        assert answer.status_code in (400, 413) and answer.json()["code"] == code, (name, answer.text)
        assert words in answer.json()["message"], (name, answer.json())


def test_ocr_batch_answers_each_image_in_order(url):
    images = [b64(png(line_image(text, (320, 40)))) for text in LINES]
    answer = post(url, "/ocr_batch", {"images": images})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [cer([r["text"]], [t]) < 0.2 for r, t in zip(results, LINES, strict=True)] == [True] * 3


# -- whole pages and what phones and editors save ---------------------------------------------------


def test_a_page_of_120_lines_is_read_whole(url):
    image, texts = dense_page(120)
    answer = post(url, "/ocr", {"image": b64(png(image))})
    assert answer.status_code == 200, answer.text
    lines = answer.json()["lines"]
    assert len(lines) == 120
    assert cer(["\n".join(line["text"] for line in lines)], ["\n".join(texts)]) < 0.05


def test_ocr_batch_takes_max_images_line_images(url):
    texts = [f"{TESTS[i % len(TESTS)]} {i}" for i in range(64)]  # serve.max_images
    answer = post(url, "/ocr_batch", {"images": [b64(png(line_image(t, (320, 40)))) for t in texts]})
    assert answer.status_code == 200, answer.text
    assert cer([r["text"] for r in answer.json()["results"]], texts) < 0.1


def test_eight_concurrent_40_line_pages_are_all_answered(url):
    image, texts = dense_page(40)
    body = {"image": b64(png(image))}
    answers: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(post(url, "/ocr", body))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 8, [a.text[:200] for a in answers if a.status_code != 200]
    assert all(len(a.json()["lines"]) == 40 for a in answers)


def test_photos_and_odd_encodings_read_as_the_plain_picture(url):
    upright = line_image("Creatinine 88 umol/L", (320, 40), paper=255)
    plain = post(url, "/ocr", {"image": b64(png(upright)), "mode": "line"}).json()["text"]
    for name, data in variants(upright).items():
        answer = post(url, "/ocr", {"image": b64(data), "mode": "line"})
        assert answer.status_code == 200, (name, answer.text)
        if name not in LOSSY:  # lossless: the very same pixels, so the very same text
            assert answer.json()["text"] == plain, name
    # a phone's JPEG of a page, stored sideways: every line found where the upright page has it
    page, _ = dense_page(12)
    plain_page = post(url, "/ocr", {"image": b64(png(page))}).json()
    for fmt in ("JPEG", "HEIF"):  # an Android phone's JPEG, an iPhone's HEIC
        turned = post(url, "/ocr", {"image": b64(with_orientation(page, 6, fmt))}).json()
        assert (turned["width"], turned["height"]) == page.size and len(turned["lines"]) == 12, fmt
        assert cer([turned["text"]], [plain_page["text"]]) < 0.05, fmt  # lossy: a few pixels change, not the page


def test_page_mode_on_a_line_reads_what_line_mode_reads(url):
    """A wide line whose word gaps split DBNet's segments is still one line, read as line mode reads it."""
    text, font = "Glucose 5.4 mmol/L   Potassium 4.1 mmol/L", ImageFont.load_default(size=24)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    image = Image.new("RGB", (right - left + 16, bottom - top + 16), "white")  # the line fills the image
    ImageDraw.Draw(image).text((8 - left, 8 - top), text, fill="black", font=font)
    answers = [post(url, "/ocr", {"image": b64(png(image)), "mode": mode}).json() for mode in ("line", "page")]
    assert len(answers[1]["lines"]) == 1 and answers[1]["text"] == answers[0]["text"]


def test_pii_redaction_can_be_switched_per_request(url):
    image = b64(png(line_image("Tel 13812345678", (320, 40))))
    plain = post(url, "/ocr", {"image": image, "redact_pii": False}).json()
    masked = post(url, "/ocr", {"image": image, "redact_pii": True}).json()
    assert "13812345678" in plain["text"].replace(" ", ""), plain["text"]
    assert "[PHONE]" in masked["text"] and masked["lines"][0]["raw_text"] == plain["lines"][0]["raw_text"]


def test_openai_chat_completions(url):
    uri = "data:image/png;base64," + b64(png(line_image(LINES[2], (320, 40))))
    body = {"model": "ocrops", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": uri}}, {"type": "text", "text": "Text Recognition:"}]}]}
    answer = post(url, "/v1/chat/completions", body)
    assert answer.status_code == 200, answer.text
    choice = answer.json()["choices"][0]
    assert choice["message"]["role"] == "assistant" and cer([choice["message"]["content"]], [LINES[2]]) < 0.2
    body["model"] = "gpt-4o"  # not this model: no answer under its name
    other = post(url, "/v1/chat/completions", body)
    assert other.status_code == 400 and other.json()["code"] == 4002 and "'ocrops'" in other.json()["message"]
    body["model"] = "glm-ocr"  # serve.chat_models
    assert post(url, "/v1/chat/completions", body).json()["model"] == "glm-ocr"
    body["messages"][0]["content"][1]["text"] = "Table Recognition:"
    refused = post(url, "/v1/chat/completions", body)
    assert refused.status_code == 400 and refused.json()["code"] == 4002


def glmocr_parse(url: str, path: Path) -> dict:
    """The real glmocr package, configured with maas.api_url pointing here, as its users run it: its Markdown and
    JSON results for ``path``."""
    script = ("import glmocr, json, sys\n"
              f"with glmocr.GlmOcr(mode='maas', api_key=sys.argv[2], api_url='{url}/layout_parsing') as p:\n"
              "    r = p.parse(sys.argv[1], save_layout_visualization=False)\n"
              "print(json.dumps({'md': r.markdown_result, 'json': r.json_result}))\n")
    result = subprocess.run([sys.executable, "-c", script, str(path), "unused"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_glmocr_sdk_parses_a_page_through_the_layout_parsing_endpoint(url, tmp_path: Path):
    """The real glmocr package, configured with maas.api_url pointing here, as its users run it."""
    image, _ = page()
    image.save(tmp_path / "page.png")
    parsed = glmocr_parse(url, tmp_path / "page.png")
    regions = parsed["json"][0]
    assert len(regions) == 3 and all(r["label"] == "text" for r in regions)
    assert all(0 <= v <= 1000 for r in regions for v in r["bbox_2d"])  # the SDK normalised our pixel boxes
    assert cer([r["content"] for r in regions], LINES) < 0.2
    assert LINES[0].split()[0] in parsed["md"]


def test_glmocr_sdk_parses_a_pdf_page_by_page(url, tmp_path: Path):
    """The SDK sends a PDF as it is (a data: URI): every page comes back as its own list of regions."""
    from ocrops.data.documents import pdf_from_images

    image, _ = page()
    (tmp_path / "two.pdf").write_bytes(pdf_from_images([image, image], dpi=200))
    pages = glmocr_parse(url, tmp_path / "two.pdf")["json"]
    assert len(pages) == 2 and all(cer([r["content"] for r in regions], LINES) < 0.2 for regions in pages), pages


def test_metrics_of_a_server_survive_another_server_on_the_same_bentoml_home(url, two):
    """Each server has a metrics folder of its own: starting ``two`` (same BENTOML_HOME) after ``url`` served
    requests leaves ``url``'s counters as they were (BentoML's shared folder was emptied by each start)."""
    post(url, "/ocr", {"image": b64(png(line_image(LINES[0], (320, 40))))})
    assert _requests_200(url) >= 1
    assert post(two, "/ocr", {"image": b64(png(line_image(LINES[1], (320, 40))))}).status_code == 200
    assert _requests_200(url) >= 1 and _requests_200(two) == 1


def _requests_200(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    found = [line.rsplit(" ", 1)[1] for line in text.splitlines()
             if line.startswith('ocrops_requests_total{endpoint="/ocr",status="200"}')]
    return float(found[0]) if found else 0.0


def test_the_two_service_topology_reads_as_the_one_process_one_and_batches_concurrent_requests(url, two):
    assert requests.post(two + "/model", json={}, timeout=30).json()["topology"] == "two"
    page_image, _ = page()
    for body in ({"image": b64(png(line_image(LINES[2], (320, 40))))}, {"image": b64(png(page_image))}):
        one_answer, two_answer = post(url, "/ocr", body).json(), post(two, "/ocr", body).json()
        assert one_answer["text"] == two_answer["text"] and one_answer["lines"] == two_answer["lines"]
    images = [b64(png(line_image(f"{LINES[i % 3]} {i}", (320, 40)))) for i in range(24)]
    before = _batches(two)
    threads = [threading.Thread(target=post, args=(two, "/ocr", {"image": im})) for im in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = _batches(two)
    calls, lines = after[0] - before[0], after[1] - before[1]
    assert lines == 24 and calls < 24, (calls, lines)  # some model calls carried more than one line


def _batches(url: str) -> tuple[float, float]:
    text = requests.get(url + "/metrics", timeout=10).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("ocrops_batch_size_"))
    return float(values.get("ocrops_batch_size_count", 0)), float(values.get("ocrops_batch_size_sum", 0))


def test_metrics_export_requests_latency_queue_and_model(url):
    post(url, "/ocr", {"image": "not base64!"})
    text = requests.get(url + "/metrics", timeout=10).text
    assert 'ocrops_requests_total{endpoint="/ocr",status="200"}' in text
    assert 'ocrops_requests_total{endpoint="/ocr",status="400"}' in text
    assert 'ocrops_request_duration_seconds_bucket{endpoint="/ocr"' in text
    assert "ocrops_queue_depth" in text
    assert 'ocrops_model_info{alias="champion",engine="ort_fp32",family="ppocr",name="ocrops",version="1"} 1.0' in text


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code", "status"), [
    ({"image": b64(b"definitely not an image")}, 4001, 400),
    ({"image": b64(truncated_png())}, 4001, 400),
    ({"image": "@@@ not base64 @@@"}, 4002, 400),
    ({"image": "data:text/plain,hello"}, 4002, 400),
    ({}, 4002, 400),
    ({"image": 12}, 4002, 400),
    ({"image": b64(png_with_declared_size(60000, 60000))}, 5001, 413),
    ({"image": b64(png(Image.new("RGB", (6000, 40), "white")))}, 5001, 413),
])
def test_bad_requests_get_their_code_and_a_request_id(url, body, code, status):
    answer = post(url, "/ocr", body, headers={"X-Request-ID": "req-123"})
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["code"] == code and error["message"] and error["request_id"] == "req-123"


def test_oversized_bodies_are_refused_before_reading(url):
    answer = requests.post(url + "/ocr", data=b"x" * 14_000_000, headers={"Content-Type": "application/json"},
                           timeout=60)
    assert answer.status_code == 413 and answer.json()["code"] == 5001


def test_malformed_json_is_a_4002(url):
    answer = requests.post(url + "/ocr", data=b"{not json", headers={"Content-Type": "application/json"},
                           timeout=60)
    assert answer.status_code == 400 and answer.json()["code"] == 4002


def test_api_keys_and_rate_limit_per_key(bento):
    image = {"image": b64(png(line_image("key", (200, 40))))}
    alpha, beta = "alpha-7f3e9c1d", "beta-0b5a2e44"
    server = serve(bento, OCROPS_API_KEYS=f"{alpha},{beta}", OCROPS_SERVE_RATE_LIMIT__RATE=0.2,
                   OCROPS_SERVE_RATE_LIMIT__BURST=2)
    with server as base:
        missing = post(base, "/ocr", image)
        assert missing.status_code == 401 and missing.json()["code"] == 4010
        wrong = post(base, "/ocr", image, headers={"Authorization": "Bearer gamma"})
        assert wrong.status_code == 401
        answers = [post(base, "/ocr", image, headers={"Authorization": f"Bearer {alpha}"}) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert answers[2].json()["code"] == 4029 and int(answers[2].headers["Retry-After"]) >= 1
        other = post(base, "/ocr", image, headers={"X-API-Key": beta})
        assert other.status_code == 200  # buckets are per key
        assert requests.get(base + "/readyz", timeout=10).status_code == 200  # probes need no key
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "status=429" in log and alpha not in log and beta not in log  # keys never reach the log


def test_readyz_stays_503_until_the_recognizer_is_warm(bento):
    """Warm-up batches slowed by an injected 2 s per batch: the API is up (/livez) before it is ready, and
    /readyz says so until the recognizer has warmed up."""
    import time

    from ocrops.harness.server import ServerProcess, free_port

    tag, base = bento
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "bentoml"), "serve", tag, "--host", "127.0.0.1", "--port", str(port)]
    server = ServerProcess(cmd, port, "/livez", base | {"OCROPS_INJECT_FAULT": "hang:2",
                                                        "OCROPS_SERVE_WARMUP_BATCHES": "3"}, timeout_s=240)
    with server as url:
        seen: list[int | str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:  # as a Kubernetes probe: an answer slower than its timeout counts as not ready
                seen.append(requests.get(url + "/readyz", timeout=3).status_code)
            except requests.Timeout:
                seen.append("timeout")
            if seen[-1] == 200:
                break
            time.sleep(0.5)
        assert seen[0] in (503, "timeout") and seen[-1] == 200, seen


def test_unknown_paths_and_methods_answer_json_with_a_code(url):
    missing = requests.get(url + "/no-such-thing", timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == 4040
    wrong = requests.put(url + "/ocr", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["code"] == 4050


# -- the serving set: what a Bento installs ----------------------------------------------------------

BLOCKER = '''
import importlib.abc, sys
BLOCKED = frozenset({blocked!r})
class _NotInTheServingSet(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in requirements-serve.lock)", name=name)
sys.meta_path.insert(0, _NotInTheServingSet())
'''


def modules_outside_the_serving_set() -> set[str]:
    """Top-level modules of this environment that only packages outside requirements-serve.lock provide."""
    import importlib.metadata as md
    import re

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    lock = (Path(__file__).resolve().parents[2] / "requirements-serve.lock").read_text(encoding="utf-8")
    serving = {norm(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9._-]+)==", lock, re.M)} | {"ocrops"}
    return {module for module, dists in md.packages_distributions().items()
            if not module.startswith("_") and not {norm(d) for d in dists} & serving}


def serving_set_site(folder: Path) -> Path:
    """A folder whose sitecustomize refuses every module the serving lock leaves out (put it on PYTHONPATH)."""
    blocked = modules_outside_the_serving_set()
    assert {"torch", "mlflow", "dvc", "onnx", "rapidocr_onnxruntime", "transformers", "albumentations"} <= blocked
    (folder / "sitecustomize.py").write_text(BLOCKER.format(blocked=sorted(blocked)), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def serving_set_only(bento, tmp_path_factory):
    """The bento served by a Python that cannot import anything the serving lock leaves out (torch, mlflow,
    dvc, onnx, rapidocr, ...): a sitecustomize refuses those modules in the server and its workers."""
    with serve(bento, PYTHONPATH=serving_set_site(tmp_path_factory.mktemp("serving-set"))) as base:
        yield base


def test_a_model_trained_with_enhance_scan_reads_on_the_serving_set(bento, tmp_path: Path):
    """`train.enhance_scan: true` saves the preprocessing with the model, and every engine applies it: the
    Bento's packaged model must read with the serving set alone (the preprocessing imported albumentations,
    which the serving lock leaves out: the first read of such a model failed in the Bento)."""
    import shutil

    models = Path(bento[1]["BENTOML_HOME"]) / "models" / "ocrops-model"
    packaged = next(p for p in models.iterdir() if (p / "package.json").exists())
    model = shutil.copytree(packaged, tmp_path / "packaged")
    (model / "model" / "preprocess.json").write_text(json.dumps({"preprocess": "enhance_scan"}) + "\n")
    line_image(LINES[2], (320, 40)).save(tmp_path / "line.png")
    script = ("import sys; from PIL import Image; from ocrops.inference.runtime import PackagedModel; "
              "m = PackagedModel(sys.argv[1], engine='ort_fp32'); print(m.read([Image.open(sys.argv[2])])[0].text)")
    site = serving_set_site(tmp_path)
    result = subprocess.run([sys.executable, "-c", script, str(model), str(tmp_path / "line.png")],
                            capture_output=True, text=True, timeout=300, env=os.environ | {"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert cer([result.stdout.strip()], [LINES[2]]) < 0.2, result.stdout


def test_the_service_runs_on_the_serving_set_alone(serving_set_only):
    """requirements-serve.lock is all a CPU Bento installs: lines and pages read without torch or the pipeline's
    packages (the page detector is the packaged model's own copy, not the rapidocr wheel's)."""
    line = post(serving_set_only, "/ocr", {"image": b64(png(line_image(LINES[0], (320, 40)))), "mode": "line"})
    assert line.status_code == 200, line.text
    assert cer([line.json()["text"]], [LINES[0]]) < 0.2
    image, _ = page()
    answer = post(serving_set_only, "/ocr", {"image": b64(png(image))})
    assert answer.status_code == 200, answer.text
    assert answer.json()["mode"] == "page" and len(answer.json()["lines"]) == 3
    card = requests.post(serving_set_only + "/model", json={}, timeout=30).json()
    assert card["engine"] == "ort_fp32"
    searchable = post(serving_set_only, "/ocr", {"image": b64(png(image)), "format": "pdf"})
    assert searchable.status_code == 200 and searchable.content.startswith(b"%PDF-"), searchable.text[:300]
