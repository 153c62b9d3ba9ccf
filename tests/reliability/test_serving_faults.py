"""Faults in serving, against a real `bentoml serve`: a worker process SIGKILLed under load, a model that hangs,
runs out of memory or raises (injected with OCROPS_INJECT_FAULT), and a soak at moderate load with the server's
memory sampled. Every request must get an answer (an error with its code counts; silence or a reset does not,
unless the client's retry turns it into an answer)."""

from __future__ import annotations

import base64
import io
import os
import signal
import threading
import time
from collections import Counter

import psutil
import pytest
import requests
from PIL import Image

from conftest import line_image, serve
from ocrops.client import OCRClient, ServiceError
from ocrops.errors import ErrorCode
from ocrops.evaluation.bench import open_loop
from ocrops.evaluation.metrics import cer
from reliability_report import pick, record

pytestmark = pytest.mark.integration

TEXT = "Glucose 5.4 mmol/L"
NO_RATE_LIMIT = {"OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


LINE = png(line_image(TEXT, (320, 40)))
BODY = {"image": base64.b64encode(LINE).decode()}


def server_processes(url: str) -> tuple[psutil.Process, dict[str, psutil.Process]]:
    """The `bentoml serve` process and its workers by service name."""
    port = url.rsplit(":", 1)[1]
    parent = next(p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and port in p.info["cmdline"]
                  and "serve" in p.info["cmdline"])
    workers = {}
    for child in parent.children():
        cmdline = child.cmdline()
        workers[cmdline[cmdline.index("--service-name") + 1]] = child
    return parent, workers


def kill_under_load(url: str, service: str, seconds: float, send) -> tuple[list[tuple[float, object]], float, int, int]:
    """4 clients sending back to back for ``seconds``, the ``service``'s worker SIGKILLed 3 s in; returns
    (send time, outcome) per request, the time of the kill, and the worker's pid before and after."""
    outcomes: list[tuple[float, object]] = []
    stop = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            outcomes.append((started, send()))

    victim = server_processes(url)[1][service].pid
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join()
    return outcomes, killed_at, victim, server_processes(url)[1][service].pid


def test_a_killed_recognizer_worker_fails_in_flight_requests_cleanly_and_comes_back(bento):
    # the recognizer is a process of its own in the two-service topology (the GPU's; forced here)
    with serve(bento, OCROPS_SERVE_TOPOLOGY="two", **NO_RATE_LIMIT) as url:
        session = requests.Session()

        def send() -> object:
            try:
                r = session.post(url + "/ocr", json=BODY, timeout=60)
                return r.status_code if r.status_code == 200 else (r.status_code, r.json()["code"])
            except requests.RequestException as exc:  # a reset or a hang: a lost request
                return type(exc).__name__

        outcomes, killed_at, victim, restarted = kill_under_load(url, "ocrops-recognizer", pick(20, 40), send)
        final = [send() for _ in range(10)]
    after_kill = [(t, o) for t, o in outcomes if t >= killed_at - 0.5]
    failed = [o for _, o in after_kill if o != 200]
    recovered = min((t for t, o in after_kill if o == 200 and t > killed_at + 0.5), default=None)
    record("worker_kill_recognizer", faults_injected=1, requests=len(outcomes) + len(final),
           failed_in_flight=len(failed), failed_kinds=dict(Counter(map(str, failed))),
           lost_records=sum(1 for o in failed if isinstance(o, str)),
           recovery_s=round(recovered - killed_at, 1) if recovered else None)
    assert restarted != victim
    assert all(o == (503, int(ErrorCode.UNAVAILABLE)) for o in failed), Counter(map(str, failed))
    assert len(failed) <= 4  # only the requests in flight at the kill
    assert recovered is not None and final == [200] * 10


def test_a_killed_api_worker_loses_nothing_through_the_retrying_client(bento):
    with serve(bento, **NO_RATE_LIMIT) as url:
        client = OCRClient(url, retries=10, max_retry_wait=2, timeout=60)

        def send() -> object:
            try:
                answer = client.ocr(LINE)
                return ("ok", answer.attempts, answer.text)
            except ServiceError as exc:
                return ("error", int(exc.code), exc.attempts)

        outcomes, killed_at, victim, restarted = kill_under_load(url, "ocrops", pick(15, 30), send)
        client.close()
    lost = [o for _, o in outcomes if o[0] != "ok"]
    retried = [o for _, o in outcomes if o[0] == "ok" and o[1] > 1]
    recovered = min((t for t, o in outcomes if t > killed_at + 0.5 and o[0] == "ok" and o[1] == 1), default=None)
    record("worker_kill_api", faults_injected=1, requests=len(outcomes), retried_after_reset=len(retried),
           lost_records=len(lost), recovery_s=round(recovered - killed_at, 1) if recovered else None)
    assert restarted != victim
    assert not lost, lost
    assert retried, "the kill should have reset some requests in flight"
    assert cer([o[2] for _, o in outcomes], [TEXT] * len(outcomes)) < 0.1


def post(base: str, body: dict) -> requests.Response:
    return requests.post(base + "/ocr", json=body, timeout=60)


def test_a_hung_model_times_out_and_a_full_queue_sheds(bento):
    with serve(bento, OCROPS_INJECT_FAULT="hang:3", MODEL_TIMEOUT=1, MAX_QUEUE_SIZE=2,
               OCROPS_SERVE_WARMUP_BATCHES=0) as base:
        answers: list[requests.Response] = []
        threads = [threading.Thread(target=lambda: answers.append(post(base, BODY))) for _ in range(6)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        # page detection counts against the deadline too: six large blank pages (96 Mpx, within
        # serve.max_request_pixels) take ~2 s each to search
        blank = base64.b64encode(png(Image.new("L", (4000, 4000), 255))).decode()
        started = time.monotonic()
        pages = requests.post(base + "/ocr_batch", json={"images": [blank] * 6, "mode": "page"}, timeout=120)
        pages_seconds = time.monotonic() - started
        alive = requests.get(base + "/livez", timeout=10).status_code
    assert pages.status_code == 504 and pages.json()["code"] == 5004, pages.text
    assert pages_seconds < 8, pages_seconds  # the deadline (1 s) plus at most the page being searched
    codes = sorted(r.json()["code"] for r in answers)
    record("model_hang", faults_injected=1, requests=len(answers), codes=dict(Counter(codes)),
           all_answered_within_s=round(seconds, 1), lost_records=len(threads) - len(answers),
           blank_pages_deadline_answer_s=round(pages_seconds, 1))
    assert 5004 in codes and 5030 in codes and set(codes) <= {5004, 5030}, codes
    shed = next(r for r in answers if r.json()["code"] == 5030)
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
    timed_out = next(r for r in answers if r.json()["code"] == 5004)
    assert timed_out.status_code == 504
    assert alive == 200


def test_out_of_memory_is_a_5003(bento):
    with serve(bento, OCROPS_INJECT_FAULT="oom_above:0", OCROPS_SERVE_WARMUP_BATCHES=0) as base:
        answer = post(base, BODY)
    record("model_oom", faults_injected=1, status=answer.status_code, code=answer.json()["code"])
    assert answer.status_code == 507 and answer.json()["code"] == 5003


def test_a_failing_model_is_a_5002_and_the_server_keeps_answering(bento):
    with serve(bento, OCROPS_INJECT_FAULT="raise", OCROPS_SERVE_WARMUP_BATCHES=0) as base:
        answers = [post(base, BODY) for _ in range(3)]
        alive = requests.get(base + "/livez", timeout=10).status_code
    record("model_raises", faults_injected=1, requests=len(answers),
           codes=dict(Counter(a.json()["code"] for a in answers)))
    assert all(a.status_code == 503 and a.json()["code"] == 5002 for a in answers)
    assert alive == 200


def test_a_soak_at_moderate_load_keeps_memory_bounded_and_answers_everything(bento):
    seconds, rate = pick(20, 300), 15.0
    with serve(bento, **NO_RATE_LIMIT) as url:
        parent, _ = server_processes(url)
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
                except psutil.NoSuchProcess:  # a worker restarting: the soak fails on the answers anyway
                    continue
                samples.append((time.monotonic(), rss / 2**20))
                done.wait(1.0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        session = requests.Session()
        result = open_loop(lambda i: session.post(url + "/ocr", json=BODY, timeout=30).status_code, rate, seconds,
                           max_workers=32)
        done.set()
        sampler.join()
    start = samples[0][0]
    warm = [mb for t, mb in samples if t - start >= seconds * 0.25]  # after the caches and arenas have grown
    growth = max(warm) - warm[0]
    bound = 64.0
    record("soak", seconds=seconds, rate_per_s=rate, requests=result["sent"], statuses=result["statuses"],
           client_errors=result["client_errors"], rss_mb_first=round(samples[0][1]), rss_mb_warm=round(warm[0]),
           rss_mb_max=round(max(mb for _, mb in samples)), rss_growth_after_warmup_mb=round(growth, 1),
           bound_mb=bound, lost_records=result["sent"] - result["statuses"].get("200", 0),
           p99_ms=round(result["p99_ms"], 1))
    assert result["statuses"] == {"200": result["sent"]} and not result["client_errors"], result
    assert growth < bound, samples
