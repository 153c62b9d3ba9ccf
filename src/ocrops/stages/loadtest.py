"""The load test: the built bento under ``bentoml serve`` on 127.0.0.1, in this machine's default topology and in
the two-service one (batching on and off), against the engine offline and a plain FastAPI peer, with the benchmark
harness (closed loop by concurrency, open loop at half load and 4x overload); whole test pages sent to the service
against RapidOCR reading the same pages in this process."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from ocrops.config import Params
from ocrops.data.files import write_headline, write_json
from ocrops.data.images import load_rgb
from ocrops.data.lines import LineDataset
from ocrops.evaluation.bench import batch_sweep, closed_loop, machine_info, open_loop
from ocrops.evaluation.pages import page_rows, pages_per_second
from ocrops.harness.load import post_ocr
from ocrops.harness.server import bento_server, peer_server
from ocrops.inference.lines import LineReader
from ocrops.inference.rapidocr import rapidocr_pages
from ocrops.inference.runtime import PackagedModel
from ocrops.registry.pyfunc import image_b64

# the load generator is one client; its own rate limit would only measure itself
SERVICE_ENV = {"OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}
MAX_ERROR_RATE = 0.01
# the service and the peer take turns at each compare concurrency this many times (means reported)
COMPARE_ROUNDS = 2


def offline_throughput(model_root: Path, images, batch_size: int, lines: int) -> dict:
    """The serving engine alone at the service's max batch size: the ceiling the service is held to."""
    model = PackagedModel(model_root)
    reader = model.reader
    if isinstance(reader, LineReader):  # the engine alone on prepared batches, as the benchmark stage measures
        prepared, infer = [array for _, array in reader.batches(images, batch_size)], reader.engine.infer
    else:  # whole readings
        prepared = [images[s : s + batch_size] for s in range(0, len(images), batch_size)]
        infer = lambda batch: reader.predict(batch, batch_size=len(batch))  # noqa: E731
    point = batch_sweep(infer, lambda _: prepared, [batch_size], lines_per_point=lines)
    return {"engine": model.engine_name, "batch_size": batch_size, **point[batch_size]}


def model_card(url: str) -> dict:
    request = urllib.request.Request(url + "/model", data=b"{}", headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=30).read())


def batch_histogram(url: str) -> dict:
    """Mean and count of the recognizer's batch sizes, from the service's /metrics."""
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    total = sum(float(v) for v in re.findall(r"^ocrops_batch_size_sum(?:\{[^}]*\})? (\S+)$", text, re.M))
    count = sum(float(v) for v in re.findall(r"^ocrops_batch_size_count(?:\{[^}]*\})? (\S+)$", text, re.M))
    return {"calls": count, "lines": total, "mean_batch": total / count if count else 0.0}


def sweep(url: str, payloads: list[str], concurrency: list[int], requests_per_point: int, timeout_s: float) -> list:
    def call(i: int) -> None:
        response = post_ocr(url, payloads[i % len(payloads)], timeout_s, mode="line")
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")

    return [closed_loop(call, c, max(2, requests_per_point // c), warmup=2) for c in concurrency]


def in_turn(urls: dict[str, str], payloads: list[str], concurrency: list[int], rounds: int, requests_per_point: int,
            timeout_s: float) -> dict[str, list[dict]]:
    """Each server at each concurrency, ``rounds`` times, the servers taking turns point by point; per server and
    concurrency the mean of its rounds (requests/s, p50, p99) and the rounds themselves."""
    taken: dict[str, dict[int, list[dict]]] = {name: {c: [] for c in concurrency} for name in urls}
    for _ in range(rounds):
        for c in concurrency:
            for name, url in urls.items():
                taken[name][c] += sweep(url, payloads, [c], requests_per_point, timeout_s)
    keys = ("requests_per_s", "p50_ms", "p99_ms", "error_rate")
    return {name: [{"concurrency": c, **{k: sum(p[k] for p in points) / len(points) for k in keys},
                    "rounds": points} for c, points in by_c.items()] for name, by_c in taken.items()}


def page_sweep(url: str, pages: list[Path], concurrency: list[int], timeout_s: float) -> dict[int, dict]:
    """Pages/s and per-page p50/p99 of the service in page mode, each point sending every page once."""

    def call(payload: str) -> None:
        response = post_ocr(url, payload, timeout_s, mode="page")
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")

    return pages_per_second(call, [image_b64(path) for path in pages], concurrency)


# what `dvc metrics show` lists: the service against a plain FastAPI server and RapidOCR, and shedding
HEADLINE = {"requests_per_s": "summary.saturation_requests_per_s", "vs_peer": "summary.service_vs_peer",
            "p99_vs_peer": "summary.p99_vs_peer", "overload_5xx": "summary.overload_500s"}


def run(params: Params) -> dict:
    import bentoml

    from ocrops.stages.package import bentoml_home

    bentoml_home(Path.cwd())
    lt, serve, paths = params.loadtest, params.serve, params.paths
    logs = paths.loadtest.logs
    manifest = json.loads(paths.package.bento.read_text(encoding="utf-8"))
    model_root = Path(bentoml.models.get(manifest["model"]).path)
    test = LineDataset.from_accepted(paths.validate_.accepted, "test")
    payloads = [image_b64(line.path) for line in test]
    images = [test.image(i) for i in range(len(test))]
    pages = [Path(row["path"]) for row in page_rows(paths.validate_.pages, "test")][: params.benchmark.pages]
    logs.mkdir(parents=True, exist_ok=True)

    offline = offline_throughput(model_root, images, serve.max_batch_size, lt.requests_per_point)
    report: dict = {"bento": manifest["bento"], "mlflow": manifest["mlflow"], "machine": machine_info(),
                    "offline": offline}

    def status_call(url: str):
        return lambda i: post_ocr(url, payloads[i % len(payloads)], lt.client_timeout_s, mode="line").status_code

    with bento_server(manifest["bento"], env=SERVICE_ENV, cwd_log=logs / "bento.log") as url:
        # the topology this machine gets by default (one process on CPU, two services on a GPU)
        report["topology"] = model_card(url)["topology"]
        report["service"] = sweep(url, payloads, lt.concurrency, lt.requests_per_point, lt.client_timeout_s)
        report["service_batches"] = batch_histogram(url)
        saturation = best_point(report["service"])["requests_per_s"]
        report["half_load"] = open_loop(status_call(url), saturation * 0.5, lt.open_loop_seconds)
        report["overload"] = open_loop(status_call(url), saturation * lt.overload_factor, lt.open_loop_seconds)
        after = post_ocr(url, payloads[0], lt.client_timeout_s, mode="line")
        report["overload"]["answers_after"] = after.status_code
        report["pages"] = {"pages": len(pages), "service": page_sweep(url, pages, params.benchmark.page_concurrency,
                                                                      lt.client_timeout_s) if pages else {}}
        # against the peer: both servers up, points taken in turn, so a drift in the machine's speed during
        # the run falls on both alike
        with peer_server(model_root, log_path=logs / "peer.log") as peer_url:
            report["versus_peer"] = in_turn({"service": url, "peer": peer_url}, payloads, lt.compare_concurrency,
                                            COMPARE_ROUNDS, lt.requests_per_point, lt.client_timeout_s)
        report["peer"] = report["versus_peer"]["peer"]
    if pages:  # the same pages read by RapidOCR in this process, while no server runs
        rapid = pages_per_second(rapidocr_pages(), [load_rgb(p) for p in pages], params.benchmark.page_concurrency)
        report["pages"]["rapidocr"] = rapid
        report["pages"]["service_vs_rapidocr"] = {
            f"c{c}": report["pages"]["service"][c]["pages_per_s"] / rapid[c]["pages_per_s"]
            for c in params.benchmark.page_concurrency}
    # the two-service topology (a recognizer service with adaptive batching), batching on and off
    two = SERVICE_ENV | {"OCROPS_SERVE_TOPOLOGY": "two"}
    if report["topology"] == "two":
        report["batching_on"] = [p for p in report["service"] if p["concurrency"] in lt.compare_concurrency]
    else:
        with bento_server(manifest["bento"], env=two, cwd_log=logs / "bento-two.log") as url:
            report["batching_on"] = sweep(url, payloads, lt.compare_concurrency, lt.requests_per_point,
                                          lt.client_timeout_s)
    with bento_server(manifest["bento"], env=two | {"OCROPS_SERVE_MAX_BATCH_SIZE": "1"},
                      cwd_log=logs / "bento-unbatched.log") as url:
        report["batching_off"] = sweep(url, payloads, lt.compare_concurrency, lt.requests_per_point,
                                       lt.client_timeout_s)

    report["summary"] = summarize(report)
    write_json(paths.loadtest.metrics, report)
    write_headline(paths.loadtest.headline, report, HEADLINE)
    write_plots(report, paths.loadtest.plots)
    return report


def summary(report: dict) -> list[str]:
    s = report["summary"]
    return [f"topology {s['topology']}: saturation {s['saturation_requests_per_s']:.1f} req/s at "
            f"{s['saturation_concurrency']} clients = {s['service_vs_offline']:.2f}x the engine offline "
            f"({s['offline_lines_per_s']:.1f} lines/s); taking turns with the FastAPI peer: "
            f"{s['service_vs_peer']:.2f}x its saturation, p99 {s['p99_vs_peer']:.2f}x its p99 at "
            f"{s['peer_saturation_concurrency']} clients; "
            f"two services {s['two_service_vs_peer']:.2f}x the peer, batching on/off {s['batching_on_vs_off']:.2f}x",
            f"overload {s['overload_offered_per_s']:.0f} req/s offered: {s['overload_accepted']} answered, "
            f"{s['overload_shed_503']} shed with 503, {s['overload_500s']} other 5xx, "
            f"{s['overload_client_errors']} unanswered; half-load p99 {s['half_load_p99_ms']:.0f} ms "
            f"(budget {s['half_load_p99_budget_ms']:.0f} ms)",
            f"pages ({report['pages']['pages']} test pages): " + ", ".join(
                f"{c} clients {report['pages']['service'][c]['pages_per_s']:.2f} pages/s "
                f"(p99 {report['pages']['service'][c]['p99_ms']:.0f} ms) = {ratio:.2f}x RapidOCR in-process"
                for c, ratio in zip(report["pages"]["service"],
                                    report["pages"].get("service_vs_rapidocr", {}).values(), strict=True))]


def best_point(points: list[dict]) -> dict:
    """Saturation: the most requests/s among points that shed (almost) nothing; a closed loop deeper than the
    latency budget allows is refused by design, and the rate of refusals says nothing about capacity."""
    clean = [p for p in points if p["error_rate"] <= MAX_ERROR_RATE] or points
    return max(clean, key=lambda p: p["requests_per_s"])


# at half load a line waits for the batch in progress, its own batch, and the batcher's wait (about a batch)
HALF_LOAD_BUDGET_BATCHES = 3


def summarize(report: dict) -> dict:
    best = best_point(report["service"])
    # against the peer: the points taken in turn with it (same concurrencies, same stretch of the run)
    ours, peer = report["versus_peer"]["service"], best_point(report["peer"])
    at_peer = next(p for p in ours if p["concurrency"] == peer["concurrency"])
    offline = report["offline"]
    one_batch_ms = offline["p50_ms"]  # one max-size batch on the engine
    over = report["overload"]
    accepted = over["statuses"].get("200", 0)
    return {
        "topology": report["topology"],
        "saturation_requests_per_s": best["requests_per_s"], "saturation_concurrency": best["concurrency"],
        "offline_lines_per_s": offline["lines_per_s"],
        "service_vs_offline": best["requests_per_s"] / offline["lines_per_s"],
        "service_vs_peer": best_point(ours)["requests_per_s"] / peer["requests_per_s"],
        # latency at the same load: the service's p99 with as many clients as saturate the peer
        "peer_saturation_concurrency": peer["concurrency"],
        "p99_vs_peer": at_peer["p99_ms"] / peer["p99_ms"],
        "by_concurrency_vs_peer": {
            str(p["concurrency"]): {"requests_per_s": s["requests_per_s"] / p["requests_per_s"],
                                    "p99": s["p99_ms"] / p["p99_ms"]}
            for p in report["peer"] for s in ours if s["concurrency"] == p["concurrency"]},
        "two_service_vs_peer": best_point(report["batching_on"])["requests_per_s"] / peer["requests_per_s"],
        "batching_on_vs_off": (best_point(report["batching_on"])["requests_per_s"]
                               / best_point(report["batching_off"])["requests_per_s"]),
        "half_load_p99_ms": report["half_load"]["p99_ms"],
        "half_load_p99_budget_ms": HALF_LOAD_BUDGET_BATCHES * one_batch_ms,
        "overload_offered_per_s": over["offered_per_s"],
        "overload_accepted": accepted,
        "overload_shed_503": over["statuses"].get("503", 0),
        "overload_500s": sum(n for s, n in over["statuses"].items() if s.startswith("5") and s not in ("503",)),
        "overload_client_errors": sum(over["client_errors"].values()),
        "overload_answers_after": over["answers_after"],
    }


def write_plots(report: dict, plots_dir: Path) -> None:
    """Requests/s and p99 by concurrency for the service, the two-service topology (batching on / off) and the
    peer."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[int, dict] = {}
    for key in ("service", "batching_on", "batching_off", "peer"):
        for p in report[key]:
            rows.setdefault(p["concurrency"], {"concurrency": p["concurrency"]})[key] = p["requests_per_s"]
            rows[p["concurrency"]][f"{key}_p99_ms"] = p["p99_ms"]
    points = [rows[c] for c in sorted(rows)]
    qps = [{k: v for k, v in r.items() if not k.endswith("_ms")} for r in points]
    p99 = [{"concurrency": r["concurrency"], **{k[:-7]: v for k, v in r.items() if k.endswith("_p99_ms")}}
           for r in points]
    write_json(plots_dir / "qps.json", qps, indent=1)
    write_json(plots_dir / "p99.json", p99, indent=1)
