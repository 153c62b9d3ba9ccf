"""The load test's summary: saturation and p99 against the peer at the same load, the two-service topology."""

from __future__ import annotations

import json

from ocrops.stages.loadtest import summarize, write_plots


def point(c: int, rps: float, p99: float, errors: float = 0.0) -> dict:
    return {"concurrency": c, "requests_per_s": rps, "p50_ms": p99 / 2, "p99_ms": p99, "error_rate": errors}


def report() -> dict:
    return {
        "topology": "one",
        "offline": {"lines_per_s": 50.0, "p50_ms": 200.0},
        # 64 clients: more than the latency budget allows, shed (5030) by design - not saturation
        "service": [point(1, 40, 30), point(8, 63, 180), point(32, 62, 600), point(64, 90, 900, errors=0.2)],
        "batching_on": [point(1, 35, 50), point(8, 45, 210), point(32, 50, 800)],
        "batching_off": [point(1, 36, 50), point(8, 40, 220), point(32, 41, 900)],
        "peer": [point(1, 44, 32), point(8, 60, 220), point(32, 61, 1000)],
        # the points taken in turn with the peer (means of rounds)
        "versus_peer": {"service": [point(1, 41, 31), point(8, 62, 170), point(32, 62.5, 610)],
                        "peer": [point(1, 44, 32), point(8, 60, 220), point(32, 61, 1000)]},
        "half_load": {"p99_ms": 300.0},
        "overload": {"offered_per_s": 250.0, "statuses": {"200": 300, "503": 1500, "500": 2},
                     "client_errors": {}, "answers_after": 200},
    }


def test_saturation_is_the_best_clean_point_and_p99_is_compared_at_the_peers_saturating_load():
    s = summarize(report())
    assert s["saturation_requests_per_s"] == 63 and s["saturation_concurrency"] == 8
    # against the peer only the points taken in turn with it count (the peer saturates at 32 clients)
    assert s["service_vs_peer"] == 62.5 / 61
    assert s["peer_saturation_concurrency"] == 32 and s["p99_vs_peer"] == 610 / 1000
    assert s["by_concurrency_vs_peer"]["1"] == {"requests_per_s": 41 / 44, "p99": 31 / 32}
    assert s["two_service_vs_peer"] == 50 / 61 and s["batching_on_vs_off"] == 50 / 41
    assert s["overload_500s"] == 2 and s["overload_shed_503"] == 1500
    assert s["half_load_p99_budget_ms"] == 600


def test_plots_hold_one_column_per_server(tmp_path):
    write_plots(report(), tmp_path)
    qps = json.loads((tmp_path / "qps.json").read_text())
    assert qps[0] == {"concurrency": 1, "service": 40, "batching_on": 35, "batching_off": 36, "peer": 44}
    assert qps[-1] == {"concurrency": 64, "service": 90}


def test_servers_take_turns_point_by_point(monkeypatch):
    from ocrops.stages import loadtest

    order = []

    def sweep(url, payloads, concurrency, requests_per_point, timeout_s):
        order.append((url, concurrency[0]))
        return [point(concurrency[0], 10.0 if url == "a" else 20.0 + len(order), 100.0)]

    monkeypatch.setattr(loadtest, "sweep", sweep)
    taken = loadtest.in_turn({"service": "a", "peer": "b"}, ["x"], [1, 8], 2, 16, 5.0)
    assert order == [("a", 1), ("b", 1), ("a", 8), ("b", 8)] * 2
    assert taken["peer"][0]["requests_per_s"] == ((20 + 2) + (20 + 6)) / 2 and len(taken["peer"][0]["rounds"]) == 2
    assert [p["concurrency"] for p in taken["service"]] == [1, 8]
