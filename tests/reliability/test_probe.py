"""What an independent probe of the built Bento broke, each case against a real `bentoml serve`, with its
figures in the reliability report (section "probe"): stalled uploads starving other clients (with and without
API keys), made-up paths growing /metrics, client hang-ups counted as server errors, answers under another
model's name, plain-text 404/405. (Forged log lines and request content in the log: test_fuzz_service.py.)"""

from __future__ import annotations

import base64
import io
import re
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import line_image, serve
from reliability_report import record

pytestmark = pytest.mark.integration

ALPHA, BETA = "alpha-5c1e0d7a", "beta-93b2f6e1"
BODY_DEADLINE_S = 8  # serve.body_timeout_s / body_idle_s here: a stalled body is dismissed after this


def png_b64(text: str) -> str:
    buf = io.BytesIO()
    line_image(text, (320, 40)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


IMAGE = png_b64("Glucose 5.4 mmol/L")


@pytest.fixture(scope="module")
def open_server(bento):
    with serve(bento, OCROPS_SERVE_RATE_LIMIT__RATE=1000, OCROPS_SERVE_RATE_LIMIT__BURST=1000,
               OCROPS_SERVE_BODY_IDLE_S=BODY_DEADLINE_S, OCROPS_SERVE_BODY_TIMEOUT_S=BODY_DEADLINE_S) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server(bento):
    with serve(bento, OCROPS_API_KEYS=f"{ALPHA},{BETA}", OCROPS_SERVE_RATE_LIMIT__RATE=1000,
               OCROPS_SERVE_RATE_LIMIT__BURST=1000, OCROPS_SERVE_BODY_IDLE_S=BODY_DEADLINE_S,
               OCROPS_SERVE_BODY_TIMEOUT_S=BODY_DEADLINE_S) as url:
        yield url


def stalled(url: str, key: str | None = None) -> socket.socket:
    """A connection that sends ``POST /ocr`` headers promising 1000 bytes and then 10 of them."""
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=30)
    auth = f"Authorization: Bearer {key}\r\n".encode() if key else b""
    conn.sendall(b"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
                 + auth + b'\r\n{"image":"')
    return conn


def still_open(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        conn.recv(1)
    except BlockingIOError:
        return True
    finally:
        conn.setblocking(True)
    return False


def dismissed(conns: list[socket.socket]) -> tuple[set[str], float]:
    """Each stalled connection's status line (read until the server closes it), and the seconds it took."""
    started, lines = time.monotonic(), set()
    for conn in conns:
        reply = b""
        while chunk := conn.recv(4096):
            reply += chunk
        text = reply.decode("latin-1")
        assert '"code":4080' in text.replace(" ", ""), text[:300]
        lines.add(text.split("\r\n", 1)[0])
        conn.close()
    return lines, time.monotonic() - started


def timed_post(url: str, headers: dict | None = None) -> tuple[int, float]:
    started = time.monotonic()
    answer = requests.post(url + "/ocr", json={"image": IMAGE}, headers=headers or {}, timeout=30)
    return answer.status_code, (time.monotonic() - started) * 1000


def counted(url: str) -> dict[str, float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("ocrops_requests_total")}


def test_stalled_bodies_leave_everyone_else_served_and_are_closed_in_time(open_server):
    """64 stalled uploads: other requests are answered 200 while every stalled connection is still open and
    unanswered (no place in the queue is held by a body that has not arrived); the stalled ones then get 408
    (4080) and are closed; those whose client hangs up first count as 499, never as 500."""
    url = open_server
    assert timed_post(url)[0] == 200  # warm: the first call is not the point
    conns = [stalled(url) for _ in range(64)]
    served = [timed_post(url) for _ in range(8)]
    open_after = sum(still_open(c) for c in conns)
    for conn in conns[:8]:  # these clients give up
        conn.close()
    lines, seconds = dismissed(conns[8:])
    time.sleep(0.5)
    statuses = counted(url)
    record("probe", stalled_bodies=64, others_served=sum(s == 200 for s, _ in served),
           others_max_ms=round(max(ms for _, ms in served)), stalled_still_open_after_others=open_after,
           stalled_answers=sorted(lines), stalled_closed_within_s=round(seconds, 1),
           body_deadline_s=BODY_DEADLINE_S, hang_ups_counted_499=statuses.get(
               'ocrops_requests_total{endpoint="/ocr",status="499"}', 0))
    assert [s for s, _ in served] == [200] * 8 and open_after == 64
    assert lines == {"HTTP/1.1 408 Request Timeout"}
    assert statuses.get('ocrops_requests_total{endpoint="/ocr",status="499"}') == 8.0, statuses
    assert not [k for k in statuses if 'status="500"' in k]


def test_connections_stuck_in_their_headers_hold_no_place(open_server):
    """128 connections that never finish their headers (slowloris) reach no handler and take no queue place:
    other clients are served. The server sets no deadline on headers (uvicorn has none); a proxy in front sets
    one (deploy/README.md: nginx client_header_timeout)."""
    url = open_server
    host, port = url.removeprefix("http://").split(":")
    conns = []
    for _ in range(128):
        conn = socket.create_connection((host, int(port)), timeout=30)
        conn.sendall(b"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Type: app")
        conns.append(conn)
    served = [timed_post(url) for _ in range(8)]
    open_after = sum(still_open(c) for c in conns)
    for conn in conns:
        conn.close()
    record("probe", header_stalled=len(conns), header_stalled_others_served=sum(s == 200 for s, _ in served),
           header_stalled_others_max_ms=round(max(ms for _, ms in served)))
    assert [s for s, _ in served] == [200] * 8 and open_after == len(conns)


def test_one_keys_stalled_bodies_leave_another_key_served(keyed_server):
    """SECURITY.md's promise: one key's flood leaves another key alone, stalled bodies included; stalled uploads
    without a valid key are refused (401) before their body is waited for."""
    url = keyed_server
    assert timed_post(url, {"Authorization": f"Bearer {BETA}"})[0] == 200
    conns = [stalled(url, ALPHA) for _ in range(64)]
    anonymous = [stalled(url) for _ in range(16)]
    served = [timed_post(url, {"Authorization": f"Bearer {BETA}"}) for _ in range(4)]
    served += [timed_post(url, {"X-API-Key": ALPHA}) for _ in range(4)]
    open_after = sum(still_open(c) for c in conns)
    refused = set()
    for conn in anonymous:
        refused.add(conn.recv(4096).decode("latin-1").split("\r\n", 1)[0])
        conn.close()
    lines, seconds = dismissed(conns)
    record("probe", keyed_stalled_bodies=len(conns), keyed_others_served=sum(s == 200 for s, _ in served),
           keyed_others_max_ms=round(max(ms for _, ms in served)), keyed_stalled_closed_within_s=round(seconds, 1),
           anonymous_stalled_answers=sorted(refused))
    assert [s for s, _ in served] == [200] * 8 and open_after == len(conns)
    assert lines == {"HTTP/1.1 408 Request Timeout"} and refused == {"HTTP/1.1 401 Unauthorized"}


def test_made_up_paths_add_no_metric_series(open_server):
    """300 random paths (GET and POST, no key) leave /metrics with the series it had: endpoint labels are
    bounded ("other"), and BentoML's raw-path families are not exported."""
    url = open_server

    def series() -> tuple[set[str], int]:
        text = requests.get(url + "/metrics", timeout=10).text
        return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}, len(text)

    for i in range(2):  # the "other" series exist once any made-up path was seen, for both methods' statuses
        requests.get(url + f"/warm-{i}", timeout=10)
        requests.post(url + f"/warm-{i}", json={}, timeout=10)
    before, size_before = series()
    session = requests.Session()
    for i in range(300):
        path = f"/{uuid.uuid4().hex}/{i}"
        (session.get if i % 2 else session.post)(url + path, timeout=10)
    after, size_after = series()
    record("probe", random_paths=300, new_metric_series=len(after - before), metrics_bytes_before=size_before,
           metrics_bytes_after=size_after)
    assert after == before, sorted(after - before)[:10]
    assert not any("bentoml_service_request" in s for s in after)
    assert any(s.startswith('ocrops_requests_total{endpoint="other"') for s in after)


def test_no_answer_under_another_models_name_and_every_error_is_json(open_server):
    url = open_server
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + IMAGE}}, {"type": "text", "text": "Text Recognition:"}]}
    other = requests.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": [message]}, timeout=30)
    ours = requests.post(url + "/v1/chat/completions", json={"model": "ocrops", "messages": [message]}, timeout=30)
    missing = requests.get(url + "/no-such-thing", timeout=10)
    wrong = requests.put(url + "/ocr", timeout=10)
    record("probe", chat_other_model=[other.status_code, other.json().get("code")],
           chat_served_model=[ours.status_code, ours.json().get("model")],
           not_found=[missing.status_code, missing.json().get("code")],
           method_not_allowed=[wrong.status_code, wrong.json().get("code")])
    assert other.status_code == 400 and other.json()["code"] == 4002 and "'ocrops'" in other.json()["message"]
    assert ours.status_code == 200 and ours.json()["model"] == "ocrops"
    assert missing.status_code == 404 and missing.json()["code"] == 4040
    assert wrong.status_code == 405 and wrong.json()["code"] == 4050


def test_answers_are_utf8_with_tidy_numbers(open_server):
    """The probe saw ``\\u`` escapes and 46.79999923706055 where the README showed characters and 46.8."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "img" / "sample-page.png").read_bytes()
    answer = requests.post(open_server + "/ocr", files={"file": ("page.png", page, "image/png")}, timeout=60)
    raw = answer.content.decode("utf-8")
    long_floats = re.findall(r"\d*\.\d{8,}", raw)
    record("probe", answer_escapes=raw.count("\\u"), answer_long_floats=len(long_floats))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json()["mode"] == "page" and any(ord(c) > 127 for c in answer.json()["text"])
    assert not long_floats and "\\u" not in raw
