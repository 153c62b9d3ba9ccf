"""The gatekeeper receives a body whole and in time before the request takes a queue place; stalled uploads
are answered 4080 and leave everyone else served; a client that hangs up is 499; the log line cannot be
forged through the path; every error answer is our JSON. Driven at the ASGI level (no sockets)."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ocrops.serving.auth import ApiKeys
from ocrops.serving.http import Gatekeeper
from ocrops.serving.settings import ServeSettings


async def ocr(request):
    body = await request.body()
    return JSONResponse({"bytes": len(body)})


def gate(keys: list[str] | None = None, **settings) -> Gatekeeper:
    app = Starlette(routes=[Route("/ocr", ocr, methods=["POST"])])
    return Gatekeeper(app, ServeSettings(**settings), ApiKeys(keys or []))


def scope(path: str = "/ocr", method: str = "POST", headers: dict[str, str] | None = None) -> dict:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": raw, "client": ("10.0.0.9", 5000), "server": ("127.0.0.1", 3000), "scheme": "http",
            "http_version": "1.1", "root_path": "", "app": None}


async def call(gatekeeper: Gatekeeper, request: dict, chunks: list[bytes], stall: bool = False,
               hang_up: bool = False) -> tuple[int | None, dict | None]:
    """One request: the body in ``chunks``; ``stall``: then nothing more (and no end); ``hang_up``: then a
    disconnect. Returns the status and the JSON answer (None, None when nothing was answered)."""
    events = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    if hang_up:
        events.append({"type": "http.disconnect"})
    elif not stall:
        events.append({"type": "http.request", "body": b"", "more_body": False})
    answer: dict = {"body": b""}

    async def receive():
        if events:
            return events.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await gatekeeper(request, receive, send)
    return answer.get("status"), json.loads(answer["body"]) if answer["body"] else None


def test_a_stalled_body_is_answered_4080_within_its_deadline():
    g = gate(body_idle_s=0.2, body_timeout_s=0.5)
    status, answer = asyncio.run(call(g, scope(headers={"content-length": "1000"}), [b"x" * 10], stall=True))
    assert status == 408 and answer["code"] == 4080 and "10 of 1000 bytes" in answer["message"]


def test_stalled_bodies_hold_no_queue_place_and_others_with_any_key_are_served():
    g = gate(keys=["a", "b"], max_queue_size=4, body_idle_s=1.0, body_timeout_s=1.0)

    async def scenario():
        stalled = [asyncio.create_task(call(g, scope(headers={"content-length": "1000", "authorization": "Bearer a"}),
                                            [b"x"], stall=True)) for _ in range(64)]
        await asyncio.sleep(0.1)
        assert g.receiving == 64 and g.in_flight == 0
        served = await asyncio.gather(*[call(g, scope(headers={"authorization": f"Bearer {k}"}), [b"img"])
                                        for k in ("a", "b", "b", "a")])
        return served, await asyncio.gather(*stalled)

    served, stalled = asyncio.run(scenario())
    assert [s for s, _ in served] == [200] * 4 and served[0][1] == {"bytes": 3}
    assert {s for s, _ in stalled} == {408}
    assert g.receiving == 0 and g.in_flight == 0


def test_too_many_uploads_at_once_are_shed():
    g = gate(max_receiving=2, body_idle_s=0.3, body_timeout_s=0.3)

    async def scenario():
        slow = [asyncio.create_task(call(g, scope(), [b"x"], stall=True)) for _ in range(2)]
        await asyncio.sleep(0.05)
        third = await call(g, scope(), [b"x"])
        return third, await asyncio.gather(*slow)

    (status, answer), _ = asyncio.run(scenario())
    assert status == 503 and answer["code"] == 5030


def test_a_client_that_hangs_up_is_499_not_a_server_error(caplog):
    g = gate()
    with caplog.at_level(logging.INFO, logger="ocrops.access"):
        status, _ = asyncio.run(call(g, scope(), [b"part"], hang_up=True))
    assert status is None
    assert "status=499" in caplog.text and "status=500" not in caplog.text
    counted = {s.labels["status"]: s.value for m in g.metrics.requests.collect() for s in m.samples
               if s.name.endswith("_total")}
    assert counted.get("499", 0) >= 1


def test_a_forged_path_writes_one_escaped_line(caplog):
    g = gate()
    forged = "/x\r\nFORGED request_id=evil client=ip:6.6.6.6 path=/ocr status=200"
    with caplog.at_level(logging.INFO, logger="ocrops.access"):
        status, answer = asyncio.run(call(g, scope(forged), [b""]))
    assert status == 404 and answer["code"] == 4040
    (line,) = [r.getMessage() for r in caplog.records if r.name == "ocrops.access"]
    assert "\n" not in line and "\r" not in line and '\\r\\nFORGED' in line and "status=404" in line


def test_unknown_paths_and_methods_answer_our_json():
    g = gate()
    status, answer = asyncio.run(call(g, scope("/nope", method="GET"), [b""]))
    assert status == 404 and answer["code"] == 4040 and answer["request_id"]
    status, answer = asyncio.run(call(g, scope("/ocr", method="PUT"), [b""]))
    assert status == 405 and answer["code"] == 4050
