"""The ``benchmark`` stage: throughput and latency of every available engine over batch sizes and
closed-loop concurrency, on the test split's lines; figures also go to the registered MLflow version."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ocrops.bench import batch_sweep, closed_loop, interleaved, machine_info
from ocrops.config import Params
from ocrops.data.lines import LineDataset
from ocrops.models.base import load_model
from ocrops.serving.engines import Engine, LineReader, OrtEngine, TorchEngine

HEADLINE_BATCH = 8


def available_engines(params: Params, model_dir: Path, export_dir: Path) -> dict[str, Engine]:
    """torch eager, then every engine the export stage produced on this machine."""
    threads = params.benchmark.threads or None
    manifest = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    engines: dict[str, Engine] = {"torch": TorchEngine(load_model(model_dir).module, threads=threads)}
    for name in ("ort_fp32", "ort_int8"):
        if name in manifest["files"]:
            engines[name] = OrtEngine(export_dir / manifest["files"][name], name=name, threads=threads)
    if "tensorrt_fp16" in manifest["files"]:
        from ocrops.export.tensorrt import TensorRTEngine

        engines["tensorrt_fp16"] = TensorRTEngine(export_dir / manifest["files"]["tensorrt_fp16"])
    return engines


def run_benchmark(params: Params, model_dir: Path, export_dir: Path, accepted: Path, export_report: Path,
                  registered: Path, report_path: Path, plots_dir: Path) -> dict:
    b = params.benchmark
    test = LineDataset.from_accepted(accepted, "test")
    images = [test.image(i) for i in range(len(test))]
    manifest = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    if manifest["family"] == "glm-ocr":
        return run_benchmark_readers(params, model_dir, export_dir, manifest, images, export_report, registered,
                                     report_path, plots_dir)
    engines = available_engines(params, model_dir, export_dir)
    reader = LineReader.from_model_dir(engines["torch"], export_dir)  # preprocessing only; shared by all
    prepared = {size: [array for _, array in reader.batches(images, size)] for size in b.batch_sizes}
    singles = [array for _, array in reader.batches(images[: max(b.concurrency) * 2], 1)]
    measured = measure({name: engine.infer for name, engine in engines.items()}, prepared.__getitem__,
                       b.batch_sizes, singles, params)
    return finish(params, measured, HEADLINE_BATCH, export_report, registered, report_path, plots_dir)


def run_benchmark_readers(params: Params, model_dir: Path, export_dir: Path, manifest: dict, images: list,
                          export_report: Path, registered: Path, report_path: Path, plots_dir: Path) -> dict:
    """glm-ocr: whole readings (image in, text out, generation included) through torch and through the ONNX
    graphs, one line per call (the ONNX decoding loop runs batch 1)."""
    from ocrops.export.glm_ocr import GlmOcrOnnxReader, canonical

    size = tuple(manifest["image_size"])
    model = load_model(model_dir)
    reader = GlmOcrOnnxReader(model, export_dir / manifest["files"]["ort_vision"],
                              export_dir / manifest["files"]["ort_decoder"], size)
    lines = [[canonical(im, size)] for im in images]
    readers = {"torch": lambda batch: model.predict(batch, batch_size=1), "ort_fp32": reader.predict}
    measured = measure(readers, lambda _: lines, [1], lines, params)
    return finish(params, measured, 1, export_report, registered, report_path, plots_dir)


def measure(infers: dict[str, Callable], batches_for: Callable[[int], list], batch_sizes: list[int],
            singles: list, params: Params) -> dict:
    """Batch sweeps (engines taking turns over ``rounds``) and closed-loop sweeps of one input per request."""
    b = params.benchmark
    sweeps = interleaved({name: (lambda r, f=f: batch_sweep(f, batches_for, batch_sizes, b.lines_per_point,
                                                            b.warmup if r == 0 else 1))
                          for name, f in infers.items()}, b.rounds)
    engines = {}
    for name, f in infers.items():
        loops = {c: closed_loop(lambda i, f=f: f(singles[i % len(singles)]), c, b.requests_per_client,
                                warmup=min(b.warmup, 1)) for c in b.concurrency}
        engines[name] = {"batch": sweeps[name], "concurrency": loops}
        print(f"benchmark: {name}: "
              + ", ".join(f"b{s} {r['lines_per_s']:.0f} lines/s" for s, r in sweeps[name].items()))
    return engines


def finish(params: Params, engines: dict, headline: int, export_report: Path, registered: Path,
           report_path: Path, plots_dir: Path) -> dict:
    """Write the report and plots, and put the figures on the registered version."""
    exported = json.loads(export_report.read_text(encoding="utf-8"))
    report = {"machine": machine_info(), "rounds": params.benchmark.rounds, "engines": engines,
              "ratios": ratios(engines, headline), "tensorrt": exported["tensorrt"],
              "parity_cer_diff_points": {k: v["cer_diff_points"] for k, v in exported["parity"].items()}}
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_plots(engines, plots_dir)
    if registered.exists():
        report["mlflow"] = log_to_registry(params, json.loads(registered.read_text(encoding="utf-8")), report)
    return report


def ratios(engines: dict, batch: int) -> dict[str, float]:
    """Speed-ups at the headline batch size: ORT fp32 over torch, int8 over fp32, TensorRT over ORT fp32."""
    speed = {name: e["batch"][batch]["lines_per_s"] for name, e in engines.items() if batch in e["batch"]}
    pairs = {"ort_fp32_vs_torch": ("ort_fp32", "torch"), "ort_int8_vs_ort_fp32": ("ort_int8", "ort_fp32"),
             "tensorrt_fp16_vs_ort_fp32": ("tensorrt_fp16", "ort_fp32")}
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
        (plots_dir / file).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def log_to_registry(params: Params, registered: dict, report: dict) -> dict:
    """Headline speed figures as tags on the registered version and metrics on its run."""
    from mlflow.tracking import MlflowClient

    from ocrops.tracking import setup

    setup(params)
    client = MlflowClient()
    name, version = registered["name"], str(registered["version"])
    tags, metrics = {}, {}
    for engine, figures in report["engines"].items():
        for size, r in figures["batch"].items():
            metrics[f"bench_{engine}_b{size}_lines_per_s"] = r["lines_per_s"]
            metrics[f"bench_{engine}_b{size}_p99_ms"] = r["p99_ms"]
        if HEADLINE_BATCH in figures["batch"]:
            speed = figures["batch"][HEADLINE_BATCH]["lines_per_s"]
            tags[f"bench_{engine}_b{HEADLINE_BATCH}_lines_per_s"] = f"{speed:.1f}"
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
