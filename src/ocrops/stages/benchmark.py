"""The ``benchmark`` stage: throughput and latency of every available engine over batch sizes and
closed-loop concurrency, on the test split's lines; the served page path against RapidOCR on the test pages;
figures also go to the registered MLflow version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image

from ocrops.config import BenchmarkPaths, Params
from ocrops.data.files import write_headline, write_json
from ocrops.data.lines import LineDataset
from ocrops.evaluation.bench import batch_sweep, closed_loop, interleaved, machine_info
from ocrops.evaluation.pages import compare_page_readers, labelled_pages
from ocrops.families import saved_detector, saved_family
from ocrops.inference.pages import page_reader
from ocrops.inference.rapidocr import rapidocr_pages
from ocrops.inference.runtime import choose_reader
from ocrops.models.interface import BenchTarget
from ocrops.tracking import setup


def run(params: Params) -> dict:
    """Every engine the family offers on this machine, over batch sizes and closed-loop concurrency."""
    b, paths = params.benchmark, params.paths
    test = LineDataset.from_accepted(paths.validate_.accepted, "test")
    images = [test.image(i) for i in range(len(test))]
    model_dir, engines_dir = paths.train.model, paths.export.engines
    bench = saved_family(model_dir).code().bench(model_dir, engines_dir, images, b.batch_sizes,
                                                 singles=max(b.concurrency) * 2, threads=b.threads or None)
    measured = measure(bench.targets, bench.batch_sizes, params)
    return finish(params, measured, bench.headline, paths.benchmark, bench_pages(params))


def bench_pages(params: Params) -> dict:
    """The served page path (DBNet + the engine the service picks) vs RapidOCR on the same test pages."""
    b, paths = params.benchmark, params.paths
    pages = labelled_pages(paths.validate_.pages, "test")[: b.pages]
    if not pages:
        return {"skipped": "no validated test pages (data.pages)"}
    model_dir = paths.train.model
    choice = choose_reader(saved_family(model_dir).name, model_dir, paths.export.engines, params.serve.engine,
                           threads=b.threads or None)
    reader = page_reader(params.serve, saved_detector(model_dir))

    def ours(image: Image.Image) -> list:
        result = reader.read([image], lambda crops: choice.reader.predict(crops, params.serve.engine_batch_size),
                             mode="page")[0]
        return [(line["raw_text"], line["box"]) for line in result["lines"]]

    report = compare_page_readers(pages, {"ocrops": ours, "rapidocr": rapidocr_pages()}, b.page_concurrency)
    report["engine"] = choice.name
    speed = {name: r["speed"] for name, r in report["readers"].items()}
    report["ocrops_vs_rapidocr"] = {f"c{c}": speed["ocrops"][c]["pages_per_s"] / speed["rapidocr"][c]["pages_per_s"]
                                    for c in b.page_concurrency}
    return report


def measure(targets: dict[str, BenchTarget], batch_sizes: list[int], params: Params) -> dict:
    """Batch sweeps (engines taking turns over ``rounds``) and closed-loop sweeps of one input per request."""
    b = params.benchmark
    sweeps = interleaved({name: (lambda r, t=t: batch_sweep(t.infer, t.batches, batch_sizes, b.lines_per_point,
                                                            b.warmup if r == 0 else 1))
                          for name, t in targets.items()}, b.rounds)
    engines = {}
    for name, t in targets.items():
        loops = {c: closed_loop(lambda i, t=t: t.infer(t.singles[i % len(t.singles)]), c, b.requests_per_client,
                                warmup=min(b.warmup, 1)) for c in b.concurrency}
        engines[name] = {"batch": sweeps[name], "concurrency": loops}
    return engines


def headline_picks(engines: dict, batch: int) -> dict[str, str]:
    """What `dvc metrics show` lists: each exported engine's lines/s at the headline batch size, the ratios
    between engines, pages/s against RapidOCR's pipeline."""
    picks = {f"{name}_lines_per_s": f"engines.{name}.batch.{batch}.lines_per_s" for name in engines
             if name.startswith("ort_") and "mixed" not in name}
    return picks | {"pages_per_s": "pages.readers.ocrops.speed.1.pages_per_s",
                    "pages_vs_rapidocr": "pages.ocrops_vs_rapidocr.c1"}


def finish(params: Params, engines: dict, headline: int, out: BenchmarkPaths, pages: dict | None = None) -> dict:
    """Write the report and plots, and put the figures on the registered version."""
    exported = json.loads(params.paths.export.metrics.read_text(encoding="utf-8"))
    report = {"machine": machine_info(), "rounds": params.benchmark.rounds, "engines": engines,
              "ratios": ratios(engines, headline), "tensorrt": exported["tensorrt"],
              "parity_cer_diff_points": {k: v["cer_diff_points"] for k, v in exported["parity"].items()}}
    if pages is not None:
        report["pages"] = pages
    write_json(out.metrics, report)
    write_headline(out.headline, report, headline_picks(engines, headline))
    write_plots(engines, out.plots)
    registered = params.paths.register_.version
    if registered.exists():
        report["mlflow"] = log_to_registry(params, json.loads(registered.read_text(encoding="utf-8")), report,
                                           headline)
    return report


def summary(report: dict) -> list[str]:
    lines = [f"{name}: " + ", ".join(f"b{s} {r['lines_per_s']:.0f} lines/s" for s, r in e["batch"].items())
             for name, e in report["engines"].items()]
    lines += [", ".join(f"{k} {v:.2f}x" for k, v in report["ratios"].items())]
    if "readers" in report.get("pages", {}):
        pages = report["pages"]
        readers = ", ".join(f"{name} {min(v['speed'].items())[1]['pages_per_s']:.2f} pages/s, page CER "
                            f"{v['scores']['page_cer']:.4f}, F1 {v['scores']['f1']:.3f}"
                            for name, v in pages["readers"].items())
        ratios_ = ", ".join(f"{k} {v:.2f}x" for k, v in pages["ocrops_vs_rapidocr"].items())
        lines.append(f"pages ({pages['pages']}): {readers}; ocrops vs RapidOCR {ratios_}")
    return lines


def ratios(engines: dict, batch: int) -> dict[str, float]:
    """Speed-ups at the headline batch size: ORT fp32 over torch, int8 over fp32, TensorRT over ORT fp32."""
    speed = {name: e["batch"][batch]["lines_per_s"] for name, e in engines.items() if batch in e["batch"]}
    pairs = {"ort_fp32_vs_torch": ("ort_fp32", "torch"), "ort_int8_vs_ort_fp32": ("ort_int8", "ort_fp32"),
             "tensorrt_fp16_vs_ort_fp32": ("tensorrt_fp16", "ort_fp32"),
             # batches of one input width (batch-invariant) against width-sorted batches padded to their widest
             "batch_invariant_vs_mixed_widths": ("ort_fp32", "ort_fp32_mixed_widths")}
    return {f"{key}_b{batch}": speed[a] / speed[b] for key, (a, b) in pairs.items() if a in speed and b in speed}


PLOT_ENGINES = ("torch", "ort_fp32", "ort_int8", "tensorrt_fp16")


def write_plots(engines: dict, plots_dir: Path) -> None:
    """``throughput.json`` and ``p99.json``: a row per batch size, a column per engine (null where the machine
    has no such engine), so `dvc plots show` draws one line per engine."""
    shutil.rmtree(plots_dir, ignore_errors=True)
    plots_dir.mkdir(parents=True)
    sizes = sorted({size for e in engines.values() for size in e["batch"]})
    for file, field in (("throughput.json", "lines_per_s"), ("p99.json", "p99_ms")):
        rows = [{"batch_size": size, **{name: engines[name]["batch"][size][field]
                                        if name in engines and size in engines[name]["batch"] else None
                                        for name in PLOT_ENGINES}} for size in sizes]
        write_json(plots_dir / file, rows, indent=1)


def log_to_registry(params: Params, registered: dict, report: dict, headline: int) -> dict:
    """Headline speed figures as tags on the registered version and metrics on its run."""
    from mlflow.tracking import MlflowClient

    setup(params)
    client = MlflowClient()
    name, version = registered["name"], str(registered["version"])
    tags, metrics = {}, {}
    for engine, figures in report["engines"].items():
        for size, r in figures["batch"].items():
            metrics[f"bench_{engine}_b{size}_lines_per_s"] = r["lines_per_s"]
            metrics[f"bench_{engine}_b{size}_p99_ms"] = r["p99_ms"]
        if headline in figures["batch"]:
            speed = figures["batch"][headline]["lines_per_s"]
            tags[f"bench_{engine}_b{headline}_lines_per_s"] = f"{speed:.1f}"
    if "readers" in report.get("pages", {}):
        for c, ratio in report["pages"]["ocrops_vs_rapidocr"].items():
            tags[f"bench_pages_ocrops_vs_rapidocr_{c}"] = f"{ratio:.2f}"
        for reader, figures in report["pages"]["readers"].items():
            for c, point in figures["speed"].items():
                metrics[f"bench_pages_{reader}_c{c}_pages_per_s"] = point["pages_per_s"]
            metrics[f"bench_pages_{reader}_page_cer"] = figures["scores"]["page_cer"]
    machine = report["machine"]
    tags["bench_machine"] = f"{machine['cpu']} x{machine['cpu_count']}, gpu {machine['gpu']}"
    tags["bench_tensorrt"] = report["tensorrt"]["status"]
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    run_id = client.get_model_version(name, version).run_id
    if run_id:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])
    return {"name": name, "version": version, "tags": len(tags), "metrics": len(metrics)}
