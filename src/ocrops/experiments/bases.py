"""Choosing the base model by measurement: every preset of the default base's family fine-tuned with the
pipeline's params on the pipeline's data, read on the domain test split, the guard set and the test pages, and
timed in one run (ONNX Runtime fp32 beside the CPU's GEMM roof). reports/bases.json and .md; :func:`choose`
is the rule that picks ``train.base``."""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from ocrops import families
from ocrops.config import DEFAULT_BASE, Params
from ocrops.data.files import write_json
from ocrops.experiments.ablation import cers, read_sets, variant_params

MIN_SPEED_VS_REFERENCE = 0.8  # a base is eligible when its engine keeps this share of the reference's lines/s
REFERENCE = "ppocr-v4"  # the base every speed is compared with (the default before this measurement)
ENGINE_BATCH = 8
PAGE_KEYS = ("unclip_ratio", "merge_gap", "crop_margin")  # the page reader's calibrated settings


@dataclass
class Readers:
    """One base's trained model ready to read and time: the model, its fp32 line reader and its page reader."""

    model: Any
    line: Any
    page: Any

    @property
    def network(self):
        """The network as inference runs it (re-parameterised branches folded)."""
        network = self.model.module
        return network.fused() if hasattr(network, "fused") else network


def bases() -> tuple[str, ...]:
    return families.for_base(DEFAULT_BASE).presets


def _train_in_child(params_json: dict) -> dict:
    """One training in a fresh process, so its peak RSS is its own (spawned: nothing inherited)."""
    params = Params.model_validate(params_json)
    from ocrops.training.reproducibility import pin_kernels

    pin_kernels(params.train.threads)
    from ocrops.stages import train

    started = time.perf_counter()
    summary = train.run(params) or {}
    return {"train_minutes": (time.perf_counter() - started) / 60,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
            "epochs_run": summary.get("epochs_run"), "best_epoch": summary.get("best_epoch"),
            "val_cer": summary.get("val_cer"), "train_lines_per_s": summary.get("train_lines_per_s")}


RECIPE = ("epochs", "lr", "l2sp", "general_source", "general_ratio", "distill", "backbone_lr_scale")


def recipe(params: Params) -> dict:
    """The train params that decide what fine-tuning keeps of the base (recorded with each base's training)."""
    return {key: getattr(params.train, key) for key in RECIPE}


def in_fresh_process(function: Callable[..., dict], *args) -> dict:
    """``function(*args)`` in a spawned process (nothing inherited), so what it measures of itself (peak RSS)
    is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def train_base(params: Params, name: str) -> dict:
    varied = variant_params(params, name, {"base": name}, params.paths.bases.work, experiment="bases")
    return in_fresh_process(_train_in_child, varied.model_dump(mode="json", by_alias=True)) | {
        "recipe": recipe(params)}


def port_parity(name: str, sets: dict) -> dict | None:
    """The released base's port against its released graph on every set (None where the family has none)."""
    code = families.for_base(name).code()
    parity = {set_name: code.port_parity(name, [data.image(i) for i in range(len(data))])
              for set_name, data in sets.items()}
    return parity if all(p is not None for p in parity.values()) else None


def page_reader_for(params: Params, model_dir: Path, page_settings: dict):
    """The page reader of a trained base: its own detector, ``page_settings`` (the serve settings where it names
    none)."""
    from ocrops.inference.pages import page_reader

    settings = params.serve.model_copy(update={k: page_settings[k] for k in PAGE_KEYS if k in page_settings})
    return page_reader(settings, families.saved_detector(model_dir))


def readers(params: Params, model_dir: Path, engines: Path, page_settings: dict,
            examples: list | None = None) -> Readers:
    """A trained base exported to fp32 ONNX (as the export stage writes it), read by line and by page."""
    from ocrops.models import load_model

    model = load_model(model_dir)
    exported = families.saved_family(model_dir).code().export(model, model_dir, engines, examples or [],
                                                              params.export.model_copy(update={"int8": False}))
    return Readers(model, exported.readers["ort_fp32"], page_reader_for(params, model_dir, page_settings))


def quality(params: Params, name: str, sets: dict, pages: list, val_pages: list, engines: Path
            ) -> tuple[dict, Readers]:
    """Zero-shot and adapted CERs, the port's parity, the adapted model exported and read on the test pages with
    its own detector, its post-processing calibrated on the validation pages first."""
    from ocrops.evaluation.page_calibration import calibrate
    from ocrops.evaluation.pages import evaluate_pages
    from ocrops.models import pretrained

    model_dir = params.paths.bases.work / name / "model"
    test = sets["test"]
    measured = readers(params, model_dir, engines, {}, [test.image(i) for i in range(min(16, len(test)))])
    figures = {"zero_shot": cers(pretrained(name), sets, params.evaluate.batch_size),
               "adapted": cers(measured.model, sets, params.evaluate.batch_size)}
    if (parity := port_parity(name, sets)) is not None:
        figures["port_parity"] = parity

    def recognize(crops):
        return measured.line.predict(crops, ENGINE_BATCH)

    if val_pages:  # each base's detector post-processing calibrated on the validation pages, as the default's is
        best = calibrate(val_pages, families.saved_detector(model_dir), recognize)["best"]
        figures["page_settings"] = {k: best[k] for k in (*PAGE_KEYS, "f1", "page_cer")}
        measured.page = page_reader_for(params, model_dir, best)
    if pages:
        page, _, _ = evaluate_pages(pages, measured.page, recognize)
        figures["pages"] = {k: page[k] for k in ("precision", "recall", "f1", "page_cer", "labelled_line_cer",
                                                 "page_cer_minus_line_cer_points")}
    figures["detector"] = families.saved_family(model_dir).code().detector(model_dir).source
    return figures, measured


def speed(bases_: dict[str, Readers], lines: list, pages: list, rounds: int = 3) -> dict:
    """Lines/s (the fp32 reader, batch 8; the engine alone on prepared batches) and pages/s (one caller) of
    every base, bases taking turns each round (medians kept), with the GEMM roof measured in the same run."""
    from ocrops.evaluation.roofline import flops_per_line, gemm_peak_gflops

    roof = gemm_peak_gflops()
    runs: dict[str, dict[str, list[float]]] = {name: {"lines_per_s": [], "engine_lines_per_s": [],
                                                      "pages_per_s": []} for name in bases_}
    prepared = {name: [array for _, array in b.line.batches(lines, ENGINE_BATCH)] for name, b in bases_.items()}
    for b in bases_.values():  # warm-up
        b.line.predict(lines[:ENGINE_BATCH], ENGINE_BATCH)
    for _ in range(rounds):
        for name, b in bases_.items():
            reader = b.line
            started = time.perf_counter()
            reader.predict(lines, ENGINE_BATCH)
            runs[name]["lines_per_s"].append(len(lines) / (time.perf_counter() - started))
            started = time.perf_counter()
            for batch in prepared[name]:
                reader.engine.infer(batch)
            runs[name]["engine_lines_per_s"].append(len(lines) / (time.perf_counter() - started))
            if pages:
                started = time.perf_counter()
                for page in pages:
                    b.page.read([page.image], lambda crops, r=reader: r.predict(crops, ENGINE_BATCH),
                                      mode="page")
                runs[name]["pages_per_s"].append(len(pages) / (time.perf_counter() - started))
    report = {"gemm_roof": roof, "rounds": rounds, "lines": len(lines), "pages": len(pages), "bases": {}}
    for name, figures in runs.items():
        medians = {k: float(np.median(v)) for k, v in figures.items() if v}
        widths = [batch.shape[3] for batch in prepared[name] for _ in range(len(batch))]
        gflop = flops_per_line(bases_[name].network, widths) / 1e9
        medians["gflop_per_line"] = gflop
        medians["engine_share_of_roof"] = medians["engine_lines_per_s"] * gflop / roof["gflops"]
        report["bases"][name] = medians
    reference = report["bases"].get(REFERENCE)
    for figures in report["bases"].values():
        if reference:
            figures["lines_vs_reference"] = figures["lines_per_s"] / reference["lines_per_s"]
    return report


def engine_settings(engines: Path, prepared: list[np.ndarray], rounds: int = 3) -> dict:
    """The chosen base's fp32 graph under each ONNX Runtime graph optimisation level (saved offline, as the
    export stage saves ``export.optimization``) and intra-op thread count: engine lines/s on the same batches,
    settings taking turns each round (medians kept)."""
    from ocrops.export.onnx import optimize
    from ocrops.inference.engines import OrtEngine

    lines = sum(len(batch) for batch in prepared)
    engines_ = {}
    for level in ("basic", "extended", "all"):
        graph = optimize(engines / "model.onnx", engines / f"model.{level}.onnx", level)
        for threads in (1, 2):
            engines_[f"{level}, {threads} thread{'s' if threads > 1 else ''}"] = OrtEngine(graph, threads=threads)
    timings: dict[str, list[float]] = {name: [] for name in engines_}
    for engine in engines_.values():
        engine.infer(prepared[0])
    for _ in range(rounds):
        for name, engine in engines_.items():
            started = time.perf_counter()
            for batch in prepared:
                engine.infer(batch)
            timings[name].append(lines / (time.perf_counter() - started))
    return {name: float(np.median(values)) for name, values in timings.items()}


def choose(report: dict, max_guard_rise_points: float) -> str | None:
    """The base with the lowest adapted domain test CER (then guard CER) among those whose lines/s are at least
    MIN_SPEED_VS_REFERENCE of the reference's and whose adaptation kept general reading (guard CER at most
    ``max_guard_rise_points`` above its own zero-shot figure: the promotion gate's rule)."""
    fit = [(b["adapted"]["test_cer"], b["adapted"]["guard_cer"], name) for name, b in report["bases"].items()
           if "adapted" in b and b.get("speed", {}).get("lines_vs_reference", 0) >= MIN_SPEED_VS_REFERENCE
           and 100 * (b["adapted"]["guard_cer"] - b["zero_shot"]["guard_cer"]) <= max_guard_rise_points]
    return min(fit)[2] if fit else None


def compare(params: Params, names: list[str] | None = None, retrain: bool = False, timing: bool = True,
            progress=print) -> dict:
    """Train (unless already trained, or ``retrain``), read and time the bases; write the JSON and Markdown.
    ``timing=False`` keeps the last timing run's figures (speed depends on the network, not on its weights: a
    base trained with another recipe reads at the speed it was timed at)."""
    from ocrops.evaluation.pages import labelled_pages

    path = params.paths.bases.report
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"bases": {}}
    sets = read_sets(params)
    digests = {name: {"lines": len(data), "digest": data.digest()} for name, data in sets.items()}
    if report.get("sets") != digests:
        report = {"sets": digests, "bases": {}}
    pages = labelled_pages(params.paths.validate_.pages, "test")
    val_pages = labelled_pages(params.paths.validate_.pages, "val")
    measured: dict[str, Readers] = {}
    for name in bases():
        entry = report["bases"].setdefault(name, {})
        model_dir, engines = params.paths.bases.work / name / "model", params.paths.bases.work / name / "engines"
        if names and name not in names:  # measured before: only timed again, beside the others
            if "adapted" not in entry or not model_dir.exists():
                continue
            measured[name] = readers(params, model_dir, engines, entry.get("page_settings", {}))
            if "port_parity" not in entry and (parity := port_parity(name, sets)) is not None:
                entry["port_parity"] = parity
        else:
            if retrain or "training" not in entry or not model_dir.exists():
                progress(f"bases: training {name}")
                entry["training"] = train_base(params, name)
                _write(report, path)
            progress(f"bases: reading {name}")
            figures, measured[name] = quality(params, name, sets, pages, val_pages, engines)
            entry.update(figures)
        _write(report, path)
    lines = [sets["test"].image(i) for i in range(len(sets["test"]))]
    if timing:
        progress("bases: timing " + ", ".join(measured))
        timed = speed(measured, lines, pages[: params.benchmark.pages])
        report["speed_run"] = {k: v for k, v in timed.items() if k != "bases"}
        for name, figures in timed["bases"].items():
            report["bases"][name]["speed"] = figures
    report["chosen"] = choose(report, params.promote.max_guard_cer_rise)
    if timing and report["chosen"] in measured:
        chosen = report["chosen"]
        prepared = [array for _, array in measured[chosen].line.batches(lines, ENGINE_BATCH)]
        report["engine_settings"] = {"base": chosen, "batch": ENGINE_BATCH,
                                     "engine_lines_per_s": engine_settings(params.paths.bases.work / chosen / "engines",
                                                                           prepared)}
    report["rule"] = (f"lowest adapted domain test CER (then guard CER) among bases whose fp32 engine reads at "
                      f"least {MIN_SPEED_VS_REFERENCE:g}x the lines/s of {REFERENCE} and whose guard CER rose at "
                      f"most {params.promote.max_guard_cer_rise:g} points over its own zero-shot figure")
    _write(report, path)
    return report


_SHOWN = ("l2sp", "general_source", "general_ratio", "backbone_lr_scale")  # the recipe parts the table names


def markdown(report: dict) -> str:
    def pct(value) -> str:
        return f"{100 * value:.2f} %" if value is not None else "–"

    roof = report.get("speed_run", {}).get("gemm_roof", {})
    rows = ["| base | domain test CER: zero-shot → adapted | guard CER: zero-shot → adapted | page detection F1 | "
            "page CER (labelled lines) | lines/s (× v4) | pages/s | GFLOP/line, share of GEMM roof | training | "
            "peak RSS | page settings (unclip, gap, margin) |", "|---|---|---|---:|---|---|---:|---|---|---:|---|"]
    for name, b in report["bases"].items():
        if "adapted" not in b:
            continue
        s, t, p = b.get("speed", {}), b.get("training", {}), b.get("pages", {})
        chosen = " **chosen**" if name == report.get("chosen") else ""
        rows.append(
            f"| {name}{chosen} | {pct(b['zero_shot']['test_cer'])} → {pct(b['adapted']['test_cer'])} | "
            f"{pct(b['zero_shot']['guard_cer'])} → {pct(b['adapted']['guard_cer'])} | "
            f"{p.get('f1', 0):.4f} | {pct(p.get('page_cer'))} ({pct(p.get('labelled_line_cer'))}) | "
            f"{s.get('lines_per_s', 0):.1f} ({s.get('lines_vs_reference', 0):.2f}×) | {s.get('pages_per_s', 0):.2f} | "
            f"{s.get('gflop_per_line', 0):.2f}, {pct(s.get('engine_share_of_roof'))} | "
            f"{t.get('train_minutes', 0):.1f} min, {t.get('epochs_run')} epochs"
            + (f" ({', '.join(f'{k} {v}' for k, v in t['recipe'].items() if k in _SHOWN)})" if "recipe" in t else "")
            + " | " + (f"{t['peak_rss_gb']:.1f} GB" if t.get("peak_rss_gb") else "not measured") + " | "
            + (", ".join(f"{b['page_settings'][k]:g}" for k in PAGE_KEYS)
               if "page_settings" in b else "–") + " |")
    notes = [f"\nRule: {report.get('rule', '')}. Chosen: **{report.get('chosen')}**.",
             f"GEMM roof measured in the same run: {roof.get('gflops', 0):.0f} GFLOP/s fp32 "
             f"({roof.get('threads')} threads, numpy, {roof.get('n')}² matrices)." if roof else ""]
    ported = {name: b["port_parity"] for name, b in report["bases"].items() if b.get("port_parity")}
    if ported:
        notes += ["", "Each PyTorch port against its released ONNX graph (ONNX Runtime), before any training:", "",
                  "| base | test lines read identically | guard lines read identically | max probability difference |",
                  "|---|---:|---:|---:|"]
        for name, p in ported.items():
            test, guard = p["test"], p["guard"]
            notes.append(f"| {name} | {100 * test['identical_share']:.2f} % | {100 * guard['identical_share']:.2f} % "
                         f"| {max(test['max_prob_diff'], guard['max_prob_diff']):.1e} |")
    settings = report.get("engine_settings")
    if settings:
        notes += ["", f"{settings['base']}'s fp32 graph, engine alone (batch {settings['batch']}, lines/s), by ONNX "
                  "Runtime graph optimisation and intra-op threads:", "",
                  "| setting | lines/s |", "|---|---:|"]
        notes += [f"| {name} | {value:.1f} |" for name, value in settings["engine_lines_per_s"].items()]
    return "\n".join(rows) + "\n" + "\n".join(n for n in notes if n is not None) + "\n"


def _write(report: dict, path: Path) -> None:
    write_json(path, report)
    path.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
