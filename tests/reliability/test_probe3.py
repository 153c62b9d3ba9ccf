"""What the third independent probe of the built Bento found, each case against a real `bentoml serve`, with its
figures in the reliability report (section "probe3"): small files that decode for seconds (on the event loop,
past the deadline, in the default thread pool), decoded-pixel and body-size blow-ups, memory kept after loads,
unbounded headers, a third-party script on /docs, bare 500s and plain-text parser errors, missing browser
headers, servers left behind by `ocrops serve`, and messages that did not say what is supported."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
import requests
from hostile import PDF, SVG, multipage_tiff, progressive_jpeg, tiff_strip_bomb

from conftest import PROJECT, line_image, serve
from reliability_report import pick, record

pytestmark = pytest.mark.integration

NO_LIMIT = {"OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}
ALLOWED_ORIGIN = "https://lab.example"
DEADLINE_S = 5  # the tight server's request deadline


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


LINE = b64(png(line_image("Glucose 5.4 mmol/L", (320, 40))))
SAMPLE_PAGE = b64((PROJECT / "docs" / "img" / "sample-page.png").read_bytes())


@pytest.fixture(scope="module")
def server(bento):
    with serve(bento, OCROPS_SERVE_CORS_ORIGINS=f'["{ALLOWED_ORIGIN}"]', **NO_LIMIT) as url:
        yield url


@pytest.fixture(scope="module")
def tight(bento):
    """A 5 s deadline, and JPEGs of any number of scans let through: decodes that outlast the deadline, and a
    deadline that pages from 32 clients overrun, on purpose."""
    with serve(bento, OCROPS_SERVE_MAX_JPEG_SCANS=1_000_000, OCROPS_SERVE_TIMEOUT_S=DEADLINE_S, **NO_LIMIT) as url:
        yield url


def post(url: str, body: dict, path: str = "/ocr", timeout: float = 120) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = requests.post(url + path, json=body, timeout=timeout)
    return answer, time.monotonic() - started


def at_once(count: int, call) -> tuple[list, threading.Thread]:
    """``count`` calls of ``call`` on threads of their own, started now; (their results, a joiner)."""
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(call())) for _ in range(count)]
    for t in threads:
        t.start()
    joiner = threading.Thread(target=lambda: [t.join() for t in threads])
    joiner.start()
    return results, joiner


def unrelated_while(joiner: threading.Thread, url: str, at_least_s: float = 0.0) -> list[float]:
    """Seconds taken by line /ocr requests and /readyz probes, one after another, while ``joiner`` runs."""
    taken, started = [], time.monotonic()
    while joiner.is_alive() or time.monotonic() - started < at_least_s:
        answer, seconds = post(url, {"image": LINE})
        assert answer.status_code == 200, answer.text
        taken.append(seconds)
        before = time.monotonic()
        assert requests.get(url + "/readyz", timeout=60).status_code == 200
        taken.append(time.monotonic() - before)
    return taken


def raw(url: str, data: bytes, timeout: float = 30) -> bytes:
    """``data`` on a fresh connection; everything the server answers until it closes the connection."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(data)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    return reply


def workers_rss_mb(url: str) -> float:
    port = url.rsplit(":", 1)[1]
    parent = next(p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and port in p.info["cmdline"]
                  and "serve" in p.info["cmdline"])
    return sum(p.memory_info().rss for p in parent.children(recursive=True)) / 2**20


def test_one_small_hostile_jpeg_is_refused_from_its_header_and_freezes_nobody(server):
    """Finding 1: a 58 kB progressive JPEG declaring 5000x5000 with 5,800 empty scans decoded for seconds on the
    event loop. Its scans are counted before decoding (5001 at once); three at a time leave lines and probes
    answered as fast as ever."""
    bomb = b64(progressive_jpeg(5000, 5800))
    post(server, {"image": LINE})
    bombs, joiner = at_once(3, lambda: post(server, {"image": bomb}))
    others = unrelated_while(joiner, server, at_least_s=2)
    record("probe3", small_jpeg_bytes=len(bomb) * 3 // 4, small_jpeg_answers=sorted(
        {f"{a.status_code}/{a.json()['code']}" for a, _ in bombs}), small_jpeg_slowest_answer_s=round(
        max(s for _, s in bombs), 2), small_jpeg_slowest_unrelated_ms=round(max(others) * 1000))
    assert all(a.status_code == 413 and a.json()["code"] == 5001 and "scans" in a.json()["message"]
               for a, _ in bombs), [a.text for a, _ in bombs]
    assert max(others) < 1.5, others  # before: 10.5 s


def test_decodes_that_outlast_the_deadline_are_answered_at_it_and_hold_up_no_one(tight):
    """Finding 2: six 10-second decodes took the default thread pool; an unrelated line waited 52 s, the senders
    got 504 after 53 s, not at the 20 s deadline. Now decoding runs in bounded lanes of the worker's own, under
    the request's deadline: every sender is answered 5004 at the deadline, lines are served meanwhile."""
    bomb = b64(progressive_jpeg(5000, 12_000))  # ~1 ms a scan here: seconds past the deadline
    post(tight, {"image": LINE})
    bombs, joiner = at_once(6, lambda: post(tight, {"image": bomb}))
    others = unrelated_while(joiner, tight, at_least_s=4)
    taken = [s for _, s in bombs]
    record("probe3", slow_decodes=len(bombs), slow_decode_bytes=len(bomb) * 3 // 4, slow_decode_deadline_s=DEADLINE_S,
           slow_decode_answers=sorted({f"{a.status_code}/{a.json()['code']}" for a, _ in bombs}),
           slow_decode_answered_s=[round(min(taken), 2), round(max(taken), 2)],
           slow_decode_slowest_unrelated_ms=round(max(others) * 1000), slow_decode_unrelated_requests=len(others))
    assert all(a.status_code == 504 and a.json()["code"] == 5004 for a, _ in bombs), [a.text for a, _ in bombs]
    assert all(DEADLINE_S - 0.5 <= s <= DEADLINE_S + 1 for s in taken), taken  # at the deadline, +-1 s
    assert max(others) < 1.5, max(others)


def test_decoded_pixels_are_budgeted_from_headers(server):
    """Finding 3: a 1 kB TIFF whose strips all point at one block decodes to 5000x5000; 16 of them in a 22 kB
    /ocr_batch took 1.6 GB. Their pixels are summed from the headers and refused (5001) before any is decoded."""
    bomb = b64(tiff_strip_bomb(5000))
    before = workers_rss_mb(server)
    answer, seconds = post(server, {"images": [bomb] * 16, "mode": "line"}, "/ocr_batch")
    after = workers_rss_mb(server)
    record("probe3", tiff_bomb_bytes=len(bomb) * 3 // 4, tiff_bombs_in_batch=16,
           tiff_batch_answer=[answer.status_code, answer.json()["code"]], tiff_batch_answered_s=round(seconds, 2),
           tiff_batch_rss_growth_mb=round(after - before))
    assert answer.status_code == 413 and answer.json()["code"] == 5001, answer.text
    assert "max_request_pixels" in answer.json()["message"]
    assert after - before < 100, (before, after)


def test_one_request_body_is_capped_whole(server):
    """Finding 4: /ocr_batch accepted bodies up to 64 x 13.4 MB = 857 MB. One cap for a whole body
    (serve.max_request_bytes, 32 MB): a larger declared body is refused before it is read."""
    declared = 100_000_000
    reply = raw(server, b"POST /ocr_batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(declared).encode() + b"\r\n\r\n" + b'{"images": ["' + b"A" * 1000)
    status = reply.split(b"\r\n", 1)[0].decode()
    record("probe3", body_declared_bytes=declared, body_answer=status)
    assert status == "HTTP/1.1 413 Request Entity Too Large" and b'"code": 5001' in reply, reply[:300]


class PeakRss:
    """``with PeakRss(url) as peak:`` the server's workers' largest RSS meanwhile, in ``peak.mb``."""

    def __init__(self, url: str) -> None:
        self.url, self.mb, self._done = url, workers_rss_mb(url), threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.mb = max(self.mb, workers_rss_mb(self.url))
            self._done.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def test_memory_goes_back_after_each_load(bento):
    """Finding 5: after hostile and page loads the worker kept 3 GB (glibc arenas, ONNX Runtime's arena). RSS
    before, at peak and some seconds after each load: back near the start."""
    settle_s = pick(10, 60)
    tiff = b64(tiff_strip_bomb(5000))
    big_page = b64(png(line_image("Glucose 5.4 mmol/L  " * 30, (4000, 4000), paper=255)))
    loads = {"tiff_batches": (lambda u: post(u, {"images": [tiff] * 4, "mode": "line"}, "/ocr_batch"), 8),
             "large_pages": (lambda u: post(u, {"image": big_page, "mode": "page"}), 8),
             "sample_pages": (lambda u: post(u, {"image": SAMPLE_PAGE, "mode": "page"}), pick(24, 120))}
    figures = {}
    with serve(bento, **NO_LIMIT) as url:
        post(url, {"image": SAMPLE_PAGE, "mode": "page"})
        time.sleep(2)
        for name, (call, count) in loads.items():
            start = workers_rss_mb(url)
            codes: Counter = Counter()
            with PeakRss(url) as peak:
                for _ in range(count // 4):
                    answers, joiner = at_once(4, lambda: call(url))  # noqa: B023 - run before the loop moves on
                    joiner.join()
                    codes.update(a.status_code for a, _ in answers)
            time.sleep(settle_s)
            figures[name] = {"requests": count, "statuses": dict(codes), "rss_mb_before": round(start),
                             "rss_mb_peak": round(peak.mb), f"rss_mb_{settle_s}s_after": round(workers_rss_mb(url))}
    record("probe3", memory_loads=figures, memory_settle_s=settle_s)
    for name, f in figures.items():
        # what this test holds is the memory; answers may be shed (503) or, on a slow machine with the other test
        # worker on a core, miss the deadline they were admitted under (504: 2 of 8 4000-px pages once, on an AMD
        # EPYC of family 25), never fail otherwise
        assert set(f["statuses"]) <= {200, 503, 504} and f["statuses"].get(200), (name, f)
        assert f[f"rss_mb_{settle_s}s_after"] - f["rss_mb_before"] < 250, (name, f)


def test_headers_are_bounded(server):
    """Finding 6: a 16 MB header line was accepted and 50 unfinished 10 MB headers held 519 MB. Past
    serve.max_header_bytes (64 kB) the connection is answered 431 (JSON, 4310) and closed (after reading and
    dropping what the client still sends for a moment, so that the answer is not lost to a reset)."""
    reply = raw(server, b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    status = reply.split(b"\r\n", 1)[0].decode()
    before = workers_rss_mb(server)
    conns, answers = [], Counter()
    host, port = server.removeprefix("http://").split(":")
    for _ in range(50):
        conn = socket.create_connection((host, int(port)), timeout=30)
        conn.sendall(b"POST /ocr HTTP/1.1\r\nHost: x\r\nX-Big: ")
        conns.append(conn)
    for conn in conns:
        try:
            for _ in range(160):  # 10 MB at most, 64 kB at a time
                conn.sendall(b"b" * 65536)
        except OSError:  # closed by the server, as it should
            pass
    grown = workers_rss_mb(server) - before
    for conn in conns:
        conn.settimeout(5)
        try:
            answers[conn.recv(4096).split(b"\r\n", 1)[0].decode() or "closed"] += 1
        except OSError as exc:  # no answer (timeout), or a reset that lost it
            answers[type(exc).__name__] += 1
        conn.close()
    served, _ = post(server, {"image": LINE})
    record("probe3", header_200kb_answer=status, unfinished_headers=len(conns), unfinished_header_answers=dict(answers),
           unfinished_headers_rss_growth_mb=round(grown))
    assert status == "HTTP/1.1 431 Request Header Fields Too Large" and b'"code": 4310' in reply, reply[:300]
    assert grown < 100, grown  # before: +519 MB
    assert answers == {"HTTP/1.1 431 Request Header Fields Too Large": len(conns)}, answers
    assert served.status_code == 200


def test_the_api_explorer_and_the_page_run_no_third_party_script(server):
    """Finding 7 and 11: BentoML's explorer at /docs loaded Google Tag Manager, and no HTML answer carried a
    Content-Security-Policy. In Chromium: every request of /docs and / goes to the service itself, the
    explorer lists the API, and every answer has the browser headers."""
    from browser import launch

    heads = {path: requests.get(server + path, timeout=10).headers for path in ("/", "/docs", "/readyz")}
    heads["POST /ocr"] = post(server, {"image": LINE})[0].headers
    seen: dict[str, list] = {}
    for browser in launch():
        for path in ("/docs", "/"):
            context = browser.new_context()
            tab = context.new_page()
            requested, refused = [], []
            tab.on("request", lambda r: requested.append(r.url))  # noqa: B023
            tab.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text  # noqa: B023
                   else None)
            tab.goto(server + path)
            if path == "/docs":
                tab.wait_for_selector("text=/ocr_batch", timeout=30_000)
            tab.wait_for_load_state("networkidle")
            seen[path] = [requested, refused]
            context.close()
    foreign = {path: [u for u in urls if not u.startswith(server) and not u.startswith("data:")]
               for path, (urls, _) in seen.items()}
    record("probe3", docs_requests=len(seen["/docs"][0]), page_requests=len(seen["/"][0]), foreign_requests=foreign,
           csp_violations={p: v for p, (_, v) in seen.items()})
    assert foreign == {"/docs": [], "/": []}, foreign
    assert not seen["/docs"][1] and not seen["/"][1], seen
    for where, headers in heads.items():
        assert "frame-ancestors 'none'" in headers["content-security-policy"], where
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY", where


def test_multipart_limits_answer_with_codes_not_500s(server):
    """Finding 8: more than 1,000 multipart parts and a file name over 255 bytes were bare 500s (and fired the
    error-rate alert). Both are 4002 with the JSON error; no 500 is counted."""
    many = requests.post(server + "/ocr", files=[(f"f{i}", ("a.png", b"x", "image/png")) for i in range(1001)],
                         timeout=30)
    named = requests.post(server + "/ocr", files={"file": ("n" * 300 + ".png", png(line_image("x")), "image/png")},
                          timeout=30)
    metrics = requests.get(server + "/metrics", timeout=10).text
    errors = [line for line in metrics.splitlines() if line.startswith("ocrops_requests_total")
              and 'status="500"' in line]
    record("probe3", many_parts=[many.status_code, many.json().get("code")],
           long_filename=[named.status_code, named.json().get("code")], server_errors_counted=len(errors))
    assert many.status_code == 400 and many.json()["code"] == 4002 and many.json()["request_id"], many.text
    assert named.status_code == 400 and named.json()["code"] == 4002, named.text
    assert not errors, errors


def test_pages_over_capacity_are_shed_at_once_not_timed_out(tight):
    """Finding 9: 32 clients sending pages got 504 after the deadline, none 503: the queue bound counts requests,
    not work. Admission now counts work and sheds at once (503 + Retry-After) what would take over half the
    deadline (here 5 s, so that the sample page's 0.2-0.4 s reading overloads it with 32 clients)."""
    url = tight
    for _ in range(3):  # the worker's rate is measured from work it has done
        assert post(url, {"image": SAMPLE_PAGE, "mode": "page"})[0].status_code == 200
    outcomes: list = []

    def client() -> None:
        for _ in range(3):
            answer, seconds = post(url, {"image": SAMPLE_PAGE, "mode": "page"})
            outcomes.append((answer.status_code, answer.headers.get("Retry-After"), seconds))
            if answer.status_code == 503:
                time.sleep(float(answer.headers["Retry-After"]))

    threads = [threading.Thread(target=client) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = Counter(code for code, _, _ in outcomes)
    shed = [seconds for code, _, seconds in outcomes if code == 503]
    served = [seconds for code, _, seconds in outcomes if code == 200]
    record("probe3", page_clients=32, page_requests=len(outcomes), page_statuses=dict(codes),
           page_shed_slowest_ms=round(max(shed, default=0) * 1000), page_served_slowest_s=round(max(served), 2),
           page_deadline_s=DEADLINE_S)
    # the estimate is the recent rate: another process taking the CPU right after a request is admitted can
    # still make it miss its deadline (2 of 96 once in `make reliability`, beside the soak); before: 37 of 96
    assert codes[504] <= 3 and codes[503] > 0 and set(codes) <= {200, 503, 504}, codes
    assert all(retry is not None for code, retry, _ in outcomes if code == 503)
    # shed at once: typically ~0.1 s; the bound is half the deadline, since the test beside this one (pytest -n 2)
    # takes a core too and once held one answer for 1.01 s on CI. Before the fix a shed page waited the deadline.
    assert sorted(shed)[len(shed) // 2] < 0.5 and max(shed) < DEADLINE_S / 2, sorted(shed)


def test_parser_refusals_are_json(server):
    """Finding 10: a request the HTTP parser refuses (here: Content-Length with chunked, a smuggling attempt) was
    answered in plain text; now JSON with its code, and the connection closed."""
    reply = raw(server, b"POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    record("probe3", smuggling_answer=head.split(b"\r\n", 1)[0].decode(), smuggling_body=body.decode()[:120])
    assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head.lower(), reply[:300]
    assert b'"code": 4002' in body


def test_web_pages_of_other_origins_cannot_call_the_api(server):
    """Finding 11: a form post from any web page was processed while keys are off. A browser says where a request
    comes from (Sec-Fetch-Site, Origin): from another origin it is refused (4030) unless serve.cors_origins lists
    it; programs (no such headers) and the service's own page are served."""
    def call(headers: dict) -> requests.Response:
        return requests.post(server + "/ocr", json={"image": LINE}, headers=headers, timeout=30)

    foreign = call({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    old_browser = call({"Origin": "https://evil.example"})
    form = requests.post(server + "/ocr", files={"file": ("a.png", png(line_image("x")), "image/png")},
                         headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"}, timeout=30)
    own = call({"Origin": server, "Sec-Fetch-Site": "same-origin"})
    listed = call({"Origin": ALLOWED_ORIGIN, "Sec-Fetch-Site": "cross-site"})
    preflight = requests.options(server + "/ocr", headers={"Origin": ALLOWED_ORIGIN,
                                                            "Access-Control-Request-Method": "POST"}, timeout=10)
    program = call({})
    record("probe3", cross_origin=[foreign.status_code, foreign.json()["code"]], cross_origin_form=form.status_code,
           listed_origin=[listed.status_code, listed.headers.get("access-control-allow-origin")],
           preflight=preflight.status_code)
    assert foreign.status_code == 403 and foreign.json()["code"] == 4030
    assert old_browser.status_code == 403 and form.status_code == 403
    assert own.status_code == 200 and program.status_code == 200
    assert listed.status_code == 200 and listed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _left_behind(session: int) -> list[str]:
    return [" ".join(p.info["cmdline"] or [p.info["name"] or "?"])[:120]
            for p in psutil.process_iter(["cmdline", "name"]) if _sid(p) == session]


def _sid(process: psutil.Process) -> int | None:
    try:
        return os.getsid(process.pid)
    except OSError:
        return None


def test_sigterm_to_ocrops_serve_stops_its_server(bento, tmp_path: Path):
    """Finding 12: SIGTERM to `ocrops serve` ended it but not the `bentoml serve` it started (still listening,
    parent 1). Now `ocrops serve` becomes the server: the signal stops it, the port is free."""
    from ocrops.harness.server import free_port

    tag, env = bento
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ocrops"), "serve", "--bento", tag, "--port", str(port)],
                            cwd=tmp_path, env=os.environ | env | NO_LIMIT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        deadline, left = time.monotonic() + 30, ["?"]
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = _left_behind(proc.pid)
        free = _port_free(port)
        record("probe3", ocrops_serve_sigterm={"exit_code": code, "port_free": free, "left_behind": len(left)})
        assert free and not left, left
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_messages_say_what_is_supported_and_what_was_skipped(server):
    """Finding 13: a PDF or an SVG was "not a recognised image", a multi-page TIFF was read as its first page
    without a word (now: PDFs and every TIFF page are read), chat n=5 got one choice and max_tokens=-1 /
    temperature=99 were accepted."""
    answers = {name: post(server, {"image": b64(data)})[0] for name, data in
               (("pdf", PDF), ("svg", SVG), ("tiff_pages", multipage_tiff(3)))}
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + LINE}},
                                           {"type": "text", "text": "Text Recognition:"}]}
    chats = {name: post(server, {"messages": [message], **extra}, "/v1/chat/completions")[0]
             for name, extra in (("n5", {"n": 5}), ("max_tokens", {"max_tokens": -1}), ("temperature",
                                                                                         {"temperature": 99}),
                                 ("ok", {"n": 1, "max_tokens": 64, "temperature": 0}))}
    record("probe3", messages={k: a.json().get("message") or a.json().get("warnings") for k, a in answers.items()},
           chat_options={k: a.status_code for k, a in chats.items()})
    svg = answers["svg"].json()
    assert answers["svg"].status_code == 400 and svg["code"] == 4001, svg
    assert "SVG" in svg["message"] and "PNG, JPEG, TIFF, WebP, BMP, HEIC/HEIF or AVIF" in svg["message"], svg
    # PDFs are read now (tests/integration/test_service.py); this one's page tree is empty
    assert answers["pdf"].status_code == 400 and answers["pdf"].json()["code"] == 4002
    assert answers["pdf"].json()["message"] == "the PDF has no pages"
    pages = answers["tiff_pages"]  # every page read, each its own result
    assert pages.status_code == 200 and len(pages.json()["pages"]) == 3
    # its pages are blank, and the answer says so, page by page
    assert [(w["code"], w["page"]) for w in pages.json()["warnings"]] == [("no_text", k) for k in (1, 2, 3)]
    assert {k: a.status_code for k, a in chats.items()} == {"n5": 400, "max_tokens": 400, "temperature": 400,
                                                             "ok": 200}
    assert all(chats[k].json()["code"] == 4002 for k in ("n5", "max_tokens", "temperature"))
