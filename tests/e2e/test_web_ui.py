"""The web page at / in headless Chromium (Debian's package, driven by Playwright; no browser download) against
a real `bentoml serve` of the pretrained PP-OCRv4 bento: drop a page, get the preview's answer and then the
full image's, see the text and each line's box where the line really is; errors shown as messages.
Screenshots go to test-artifacts/ (OCROPS_TEST_ARTIFACTS)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from browser import launch, screenshot
from PIL import Image, ImageDraw, ImageFont

from conftest import PROJECT, line_image, serve
from image_variants import variants
from ocrops.evaluation.metrics import cer

pytestmark = pytest.mark.e2e

LINES = ["Hemoglobin 135 g/L", "Creatinine 88 umol/L", "Glucose 5.4 mmol/L", "Potassium 4.1 mmol/L"]
MAX_SIDE = 1800  # the served limit: a 2400 px page is refused at full size, its 1024 px preview is not


@pytest.fixture(scope="module")
def browser():
    yield from launch()


@pytest.fixture(scope="module")
def url(bento):
    with serve(bento, OCROPS_SERVE_MAX_SIDE=MAX_SIDE, OCROPS_SERVE_RATE_LIMIT__RATE=1000,
               OCROPS_SERVE_RATE_LIMIT__BURST=1000) as base:
        yield base


@pytest.fixture
def page(browser, url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  permissions=["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    tab.answers = []  # every /ocr answer the page received, in order

    def record(response):
        if response.url.endswith("/ocr") and response.request.method == "POST":
            tab.answers.append((response.status, response.json()))

    tab.on("response", record)
    tab.goto(url + "/")
    yield tab
    context.close()


def settled(tab, seen: list, count: int) -> list:
    """``seen`` once it holds ``count`` entries: Playwright delivers response events when the test next talks to
    the browser, which can be after the page has already drawn the answer."""
    for _ in range(200):
        if len(seen) >= count:
            break
        tab.wait_for_timeout(50)
    tab.wait_for_timeout(200)  # and nothing more is on its way
    return seen


def page_image(width: int, height: int) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """A PNG page with LINES at known places; returns it and each line's ink box in page pixels."""
    image = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=height // 22)
    boxes = []
    for i, text in enumerate(LINES):
        x, y = width // 12 + i * width // 20, height // 8 + i * height // 5
        draw.text((x, y), text, fill="black", font=font)
        boxes.append(draw.textbbox((x, y), text, font=font))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue(), boxes


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def drop(tab, data: bytes, name: str, mime: str) -> None:
    """A real drop event on the drop zone, carrying the file in its DataTransfer."""
    transfer = tab.evaluate_handle(
        """([b64, name, mime]) => {
             const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
             const transfer = new DataTransfer();
             transfer.items.add(new File([bytes], name, { type: mime }));
             return transfer;
           }""", [base64.b64encode(data).decode(), name, mime])
    tab.dispatch_event("#drop", "drop", {"dataTransfer": transfer})


def screen_boxes(tab) -> tuple[list[dict], dict]:
    """The drawn polygons' and the image's rectangles on screen (CSS pixels)."""
    polygons = tab.eval_on_selector_all(
        "#overlay polygon", """ps => ps.map(p => { const r = p.getBoundingClientRect();
            return {x1: r.left, y1: r.top, x2: r.right, y2: r.bottom, confidence: Number(p.dataset.confidence)}; })""")
    image = tab.eval_on_selector("#image", """i => { const r = i.getBoundingClientRect();
        return {x1: r.left, y1: r.top, scale: r.width / i.naturalWidth}; }""")
    return polygons, image


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union else 0.0


def assert_boxes_on_lines(tab, ink: list[tuple[int, int, int, int]]) -> None:
    """Every drawn box lies on its line's ink (page pixels mapped to the screen independently of the page)."""
    drawn, image = screen_boxes(tab)
    assert len(drawn) == len(ink)
    for box, (x1, y1, x2, y2) in zip(sorted(drawn, key=lambda b: b["y1"]), ink, strict=True):
        expected = tuple(v * image["scale"] + image[k] for v, k in ((x1, "x1"), (y1, "y1"), (x2, "x1"), (y2, "y1")))
        assert iou((box["x1"], box["y1"], box["x2"], box["y2"]), expected) > 0.5, (box, expected)
        assert 0.5 < box["confidence"] <= 1


def assert_labels_on_boxes(tab) -> None:
    """Each confidence label is drawn at a readable size just above the top-left of its box."""
    pairs = tab.eval_on_selector_all("#overlay polygon", """ps => ps.map(p => {
        const box = p.getBoundingClientRect(), label = p.nextElementSibling.getBoundingClientRect();
        return {box: [box.left, box.top], label: [label.left, label.bottom, label.height]}; })""")
    assert pairs
    for pair in pairs:
        (box_x, box_y), (label_x, label_bottom, label_height) = pair["box"], pair["label"]
        assert 8 <= label_height <= 24 and abs(label_x - box_x) < 3, pair
        assert -6 <= box_y - label_bottom <= 12 or box_y < label_height, pair


def test_a_dropped_page_shows_its_text_and_a_box_on_every_line(page):
    data, ink = page_image(1600, 1000)
    drop(page, data, "page.png", "image/png")
    page.wait_for_selector("#result[data-stage=full]", timeout=60_000)

    # staged upload: a downscaled JPEG first, then the full image
    assert [status for status, _ in settled(page, page.answers, 2)] == [200, 200]
    (_, preview), (_, full) = page.answers
    assert (preview["width"], preview["height"]) == (1024, 640) and preview["mode"] == "page"
    assert (full["width"], full["height"]) == (1600, 1000)

    text = page.input_value("#text")
    assert cer([line.strip() for line in text.split("\n")], LINES) < 0.1, text
    assert page.get_attribute("#status", "data-kind") != "error"

    assert_boxes_on_lines(page, ink)
    assert_labels_on_boxes(page)
    labels = page.eval_on_selector_all("#overlay text", "ts => ts.map(t => Number(t.textContent))")
    assert len(labels) == len(LINES) and all(0.5 < c <= 1 for c in labels)
    path = screenshot(page, "web-ui-page.png")
    assert Image.open(path).size == (1400, 1000)

    page.uncheck("#show-boxes")  # the debug overlay toggles
    assert not page.is_visible("#overlay")
    page.check("#show-boxes")
    assert page.is_visible("#overlay")

    page.click("#copy")
    page.wait_for_selector("#copied", state="visible")
    assert page.evaluate("navigator.clipboard.readText()") == text


def test_a_line_from_the_file_picker_is_read_in_one_request(page, tmp_path: Path):
    path = tmp_path / "line.png"
    line_image(LINES[1], (360, 40)).save(path)
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#result[data-stage=full]", timeout=60_000)
    assert len(settled(page, page.answers, 1)) == 1 and page.answers[0][1]["mode"] == "line"  # no preview needed
    assert cer([page.input_value("#text").strip()], [LINES[1]]) < 0.2
    drawn, image = screen_boxes(page)
    assert len(drawn) == 1  # the whole image is the line
    assert abs(drawn[0]["x2"] - drawn[0]["x1"] - 360 * image["scale"]) < 2


MIME = {"exif6": "image/png", "cmyk": "image/tiff", "rgba": "image/png", "palette_transparent_black": "image/png",
        "grey16": "image/png", "tiff": "image/tiff", "webp": "image/webp"}


def test_photos_and_transparent_images_read_as_the_plain_picture(page):
    """A phone's sideways JPEG, black text on a transparent PNG, a palette whose transparent index is black,
    16-bit grey, CMYK, TIFF and WebP: the page sends them as they are and shows the plain picture's text."""
    upright = line_image(LINES[2], (360, 40), paper=255)
    encoded = variants(upright)
    files = [("plain", png_bytes(upright), "image/png")] + [(name, encoded[name], mime) for name, mime in MIME.items()]
    texts = {}
    for count, (name, data, mime) in enumerate(files, start=1):
        drop(page, data, name, mime)
        status, answer = settled(page, page.answers, count)[-1]
        assert status == 200, (name, answer)
        texts[name] = answer["text"]
    assert cer([texts["plain"]], [LINES[2]]) < 0.2
    assert {name: text for name, text in texts.items() if text != texts["plain"]} == {}


def test_the_sample_page_image_shows_what_the_service_read(page):
    sample = PROJECT / "docs" / "img" / "sample-page.png"
    drop(page, sample.read_bytes(), sample.name, "image/png")
    page.wait_for_selector("#result[data-stage=full]", timeout=60_000)
    answer = settled(page, page.answers, 1)[-1][1]
    assert len(answer["lines"]) == 6  # the six test lines it was composed of
    assert page.input_value("#text") == answer["text"]
    drawn, image = screen_boxes(page)
    for box, line in zip(sorted(drawn, key=lambda b: b["y1"]), answer["lines"], strict=True):
        xs, ys = [p[0] for p in line["box"]], [p[1] for p in line["box"]]
        expected = (min(xs) * image["scale"] + image["x1"], min(ys) * image["scale"] + image["y1"],
                    max(xs) * image["scale"] + image["x1"], max(ys) * image["scale"] + image["y1"])
        assert iou((box["x1"], box["y1"], box["x2"], box["y2"]), expected) > 0.9
    assert_labels_on_boxes(page)
    screenshot(page, "web-ui-sample-page.png")


def test_a_page_over_the_size_limit_keeps_the_preview_and_says_why(page):
    data, ink = page_image(2400, 1500)
    drop(page, data, "big.png", "image/png")
    page.wait_for_selector("#status[data-kind=error]", timeout=60_000)
    assert [status for status, _ in settled(page, page.answers, 2)] == [200, 413]
    message = page.inner_text("#status")
    assert "too large" in message and "[5001]" in message and "preview" in message, message
    assert page.get_attribute("#status", "data-code") == "5001"
    assert page.get_attribute("#result", "data-stage") == "preview"
    assert cer([line.strip() for line in page.input_value("#text").split("\n")], LINES) < 0.2
    assert_boxes_on_lines(page, ink)  # the preview's boxes, scaled back onto the full image
    screenshot(page, "web-ui-too-large.png")


def test_a_file_that_is_no_image_gets_a_clear_message(page):
    drop(page, b"%PDF-1.7 not an image", "report.pdf", "application/pdf")
    page.wait_for_selector("#status[data-kind=error]", timeout=60_000)
    assert settled(page, page.answers, 1)[0][0] == 400
    message = page.inner_text("#status")
    assert "could not read this file as an image" in message and "[4001]" in message, message
    assert page.is_hidden("#result")


def test_a_pdf_shows_a_thumbnail_per_page_and_each_page_with_its_lines(page):
    """A 2-page scanned PDF (its second page upside down): the browser cannot show it, so the page asks for the
    service's pictures; a thumbnail per page, the first page shown with a box on every line, the second upright
    with its own text and boxes once its thumbnail is clicked."""
    from ocrops.data.documents import pdf_from_images

    data, ink = page_image(1600, 1000)
    upright = Image.open(io.BytesIO(data)).convert("RGB")
    pdf = pdf_from_images([upright, upright.rotate(180)], dpi=200)
    drop(page, pdf, "report.pdf", "application/pdf")
    page.wait_for_selector("#result[data-page='1']", timeout=90_000)
    [(status, answer)] = settled(page, page.answers, 1)  # the whole file at once: no preview of a PDF
    assert status == 200 and [p["rotation"] for p in answer["pages"]] == [0, 180]
    assert page.eval_on_selector_all("#pages img", "ts => ts.map(t => t.naturalWidth)") == [1024, 1024]
    shown = page.eval_on_selector("#image", "i => i.naturalWidth")
    scaled = [tuple(v * shown / 1600 for v in box) for box in ink]  # the picture is the page at 1024 px
    for number in (1, 2):
        if number == 2:
            page.click("#pages button[data-page='1']")
            page.wait_for_selector("#result[data-page='2']")
        assert "of 2" in page.inner_text("#meta")
        text = page.input_value("#text")
        assert text == answer["pages"][number - 1]["text"]
        assert cer([line.strip() for line in text.split("\n")], LINES) < 0.1, text
        assert_boxes_on_lines(page, scaled)
    screenshot(page, "web-ui-pdf.png")


def test_api_keys_and_rate_limits_are_explained_and_retried(browser, bento, tmp_path: Path):
    # keys on, and half a request per second per client: the page asks for the key, then waits its turn
    path = tmp_path / "line.png"
    line_image(LINES[2], (320, 40)).save(path)
    with serve(bento, OCROPS_API_KEYS="k-e2e", OCROPS_SERVE_RATE_LIMIT__RATE=0.5,  # pragma: allowlist secret
               OCROPS_SERVE_RATE_LIMIT__BURST=1) as base:
        context = browser.new_context()
        tab = context.new_page()
        statuses: list[int] = []
        tab.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/ocr") else None)
        tab.goto(base + "/")
        tab.wait_for_selector("#key-row", state="visible")  # the page knows keys are required
        tab.set_input_files("#file", str(path))
        tab.wait_for_selector("#status[data-kind=error]")
        assert "needs an API key" in tab.inner_text("#status") and "[4010]" in tab.inner_text("#status")

        tab.fill("#api-key", "k-e2e")
        tab.set_input_files("#file", str(path))
        tab.wait_for_selector("#result[data-stage=full]", timeout=60_000)
        tab.set_input_files("#file", str(path))  # at once: this key's bucket is empty
        tab.wait_for_selector("#status[data-kind=warn]", timeout=30_000)
        assert "rate-limited" in tab.inner_text("#status") and "Retrying in 2 s" in tab.inner_text("#status")
        tab.wait_for_selector("#result[data-stage=full]", timeout=60_000)
        assert cer([tab.input_value("#text").strip()], [LINES[2]]) < 0.2
        settled(tab, statuses, 4)
        context.close()
    assert statuses == [401, 200, 429, 200]
