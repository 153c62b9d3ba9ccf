"""The ASGI gatekeeper in front of the API, around a small Starlette app (no BentoML)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ocrops.serving.auth import ApiKeys
from ocrops.serving.http import Gatekeeper
from ocrops.serving.settings import ServeSettings

RELEASE = asyncio.Event()


async def ocr(request):
    await request.body()
    if request.query_params.get("wait"):
        await asyncio.sleep(0.3)
    if request.query_params.get("foreign"):
        return JSONResponse({"error": "1 validation error", "detail": [{"loc": ["image"], "msg": "Field required"}]},
                            status_code=400)
    return JSONResponse({"request_id": request.headers["x-request-id"]})


async def ready(request):
    return PlainTextResponse("\n")


def client(keys: list[str] | None = None, **settings) -> TestClient:
    app = Starlette(routes=[Route("/ocr", ocr, methods=["POST"]), Route("/readyz", ready)])
    app.add_middleware(Gatekeeper, settings=ServeSettings(**settings), api_keys=ApiKeys(keys or []))
    return TestClient(app)


def test_request_ids_are_kept_when_sane_and_made_otherwise():
    c = client()
    assert c.post("/ocr", headers={"X-Request-ID": "abc-1"}).json()["request_id"] == "abc-1"
    made = c.post("/ocr", headers={"X-Request-ID": "bad id with spaces"})
    assert made.json()["request_id"] != "bad id with spaces" and len(made.json()["request_id"]) == 32
    assert made.headers["x-request-id"] == made.json()["request_id"]


def test_foreign_errors_get_our_code_and_a_readable_message():
    answer = client().post("/ocr?foreign=1", headers={"X-Request-ID": "r9"})
    assert answer.status_code == 400
    assert answer.json() == {"code": 4002, "message": "image: Field required", "request_id": "r9"}


def test_oversized_bodies_are_413_5001_by_header_and_by_stream():
    c = client(max_image_bytes=1000)
    by_header = c.post("/ocr", content=b"x" * 100_000)
    assert by_header.status_code == 413 and by_header.json()["code"] == 5001

    def chunks():
        for _ in range(100):
            yield b"x" * 1000

    streamed = c.post("/ocr", content=chunks())  # chunked: no Content-Length
    assert streamed.status_code == 413 and streamed.json()["code"] == 5001


def test_keys_are_required_except_for_probes():
    c = client(keys=["k"])
    assert c.post("/ocr").json()["code"] == 4010
    assert c.post("/ocr", headers={"Authorization": "Bearer k"}).status_code == 200
    assert c.get("/readyz").status_code == 200


def test_rate_limit_per_client_with_retry_after():
    c = client(rate_limit={"enabled": True, "rate": 0.1, "burst": 1})
    assert c.post("/ocr").status_code == 200
    limited = c.post("/ocr")
    assert limited.status_code == 429 and limited.json()["code"] == 4029
    assert int(limited.headers["retry-after"]) == 10


@pytest.mark.parametrize("queue", [1, 2])
def test_a_full_queue_sheds_with_5030(queue):
    from concurrent.futures import ThreadPoolExecutor

    c = client(max_queue_size=queue, retry_after_s=3)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: c.post("/ocr?wait=1"), range(6)))
    shed = [a for a in answers if a.status_code == 503]
    assert shed and all(a.json()["code"] == 5030 and a.headers["retry-after"] == "3" for a in shed)
    assert sum(a.status_code == 200 for a in answers) >= queue


def test_wrong_keys_are_rate_limited_by_client_ip():
    c = client(keys=["k"], rate_limit={"enabled": True, "rate": 0.1, "burst": 2})
    codes = [c.post("/ocr", headers={"Authorization": f"Bearer guess-{i}"}).json()["code"] for i in range(3)]
    assert codes == [4010, 4010, 4029]
    assert c.post("/ocr", headers={"Authorization": "Bearer k"}).status_code == 200  # its own bucket


def test_broken_multipart_bodies_are_4002_not_a_server_error():
    # BentoML answers these with a bare 500 (starlette's parser raises inside its handler); found by the fuzz run
    c = client()
    no_boundary = c.post("/ocr", content=b"garbage", headers={"Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 400 and no_boundary.json()["code"] == 4002
    assert "boundary" in no_boundary.json()["message"]
    broken = c.post("/ocr", content=b"garbage", headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert broken.status_code == 400 and broken.json()["code"] == 4002, broken.text
    good = c.post("/ocr", files={"file": ("a.png", b"\x89PNG", "image/png")})
    assert good.status_code == 200


def test_metrics_are_served_by_the_gatekeeper_with_bounded_endpoint_labels():
    """/metrics is the gatekeeper's own (the app behind it has no such route): a made-up path is counted as
    "other", never under its own name; keys are not needed to scrape."""
    c = client(keys=["k-123"])
    c.post("/made-up-path-1f3a", headers={"Authorization": "Bearer k-123"})
    scraped = c.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert "ocrops_requests_total" in scraped.text and "ocrops_queue_depth" in scraped.text
    assert 'endpoint="other"' in scraped.text and "made-up-path-1f3a" not in scraped.text


def test_answers_are_utf8_json_with_tidy_floats():
    from ocrops.serving.http import answer_response

    response = answer_response({"text": "谷丙转氨酶 71↑", "box": [[float(__import__("numpy").float32(46.8)), 34.7]],
                                "confidence": 0.99151, "timings": {"total_ms": 12345.67}})
    assert response.body.decode() == ('{"text": "谷丙转氨酶 71↑", "box": [[46.8, 34.7]], "confidence": 0.99151, '
                                      '"timings": {"total_ms": 12345.67}}')
    assert response.media_type == "application/json"


def test_every_answer_carries_the_browser_headers():
    c = client()
    for answer in (c.post("/ocr"), c.get("/readyz"), c.post("/ocr", content=b"x" * 20_000_000)):
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["x-frame-options"] == "DENY"


def test_web_pages_of_other_origins_are_refused_unless_listed():
    c = client(cors_origins=["https://lab.example"])
    assert c.post("/ocr").status_code == 200  # a program: no Origin, no fetch metadata
    assert c.post("/ocr", headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}).status_code == 200
    assert c.post("/ocr", headers={"Origin": "http://testserver"}).status_code == 200  # same host, older browser
    refused = c.post("/ocr", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403 and refused.json()["code"] == 4030
    assert c.post("/ocr", headers={"Origin": "https://evil.example"}).status_code == 403
    listed = c.post("/ocr", headers={"Origin": "https://lab.example", "Sec-Fetch-Site": "cross-site"})
    assert listed.status_code == 200 and listed.headers["access-control-allow-origin"] == "https://lab.example"
    preflight = c.options("/ocr", headers={"Origin": "https://lab.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and "x-api-key" in preflight.headers["access-control-allow-headers"]


def test_one_cap_for_a_whole_body_and_a_byte_budget_per_worker():
    c = client(max_request_bytes=50_000)
    assert c.post("/ocr_batch", content=b"x" * 60_000).json()["code"] == 5001  # not 64 images' worth

    def chunks(count: int):
        for _ in range(count):
            yield b"x" * 8_000

    assert c.post("/ocr", content=chunks(10)).json()["code"] == 5001  # streamed past the cap
    tight = client(max_worker_bytes=30_000)
    declared = tight.post("/ocr", content=b"x" * 40_000)
    streamed = tight.post("/ocr", content=chunks(5))
    assert declared.status_code == streamed.status_code == 503 and declared.json()["code"] == 5030
    assert declared.headers["retry-after"] == "1"
    for _ in range(5):  # what a refused or answered request held is given back
        assert tight.post("/ocr", content=b"x" * 20_000).status_code == 200


def test_multipart_bodies_with_too_many_parts_or_long_file_names_are_4002():
    c = client()
    many = c.post("/ocr", files=[(f"f{i}", ("a.png", b"x", "image/png")) for i in range(101)])
    assert many.status_code == 400 and many.json()["code"] == 4002 and "parts" in many.json()["message"]
    named = c.post("/ocr", files={"file": ("n" * 201, b"x", "image/png")})
    assert named.status_code == 400 and "file name" in named.json()["message"]
    assert c.post("/ocr", files={"file": ("scan.png", b"x", "image/png")}).status_code == 200
