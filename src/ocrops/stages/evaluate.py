"""The ``evaluate`` stage: base vs adapted model on the held-out test split (raw and post-processed,
by bucket, latency), on general lines and on the page test split, plus the error and page galleries and the
plots."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from ocrops.config import EvaluatePaths, Params
from ocrops.data.contract import read_lexicon
from ocrops.data.files import write_headline, write_json
from ocrops.data.lines import LineDataset
from ocrops.evaluation import calibration as calibrating
from ocrops.evaluation import drift
from ocrops.evaluation.gallery import GalleryLine, render_gallery, worst_lines
from ocrops.evaluation.measure import latency_ms, measure, reviewed_slice
from ocrops.evaluation.metrics import EMPTY, cer, cer_by_bucket, confusions, top_confusions
from ocrops.evaluation.page_gallery import contact_sheet, draw_page, write_gallery
from ocrops.evaluation.pages import evaluate_pages, labelled_pages, page_vs_line
from ocrops.families import saved_detector
from ocrops.inference.pages import page_reader
from ocrops.inference.types import Prediction
from ocrops.models import load_model
from ocrops.models.interface import OCRModel
from ocrops.postprocess import Calibration, Postprocessor
from ocrops.stages.common import general_lines, guard_lines
from ocrops.tracking import log_to_active_run
from ocrops.training.base import resolve_base

# what `dvc metrics show` lists: domain CER base vs adapted, the guard and general lines, pages
HEADLINE = {"test_cer_base": "test.base.cer", "test_cer_adapted": "test.adapted.cer",
            "test_cer_postprocessed": "test.adapted_postprocessed.cer",
            "guard_cer_base": "guard.base.cer", "guard_cer_adapted": "guard.adapted.cer",
            "page_cer_base": "pages.base.page_cer", "page_cer_adapted": "pages.adapted.page_cer",
            "page_f1": "pages.adapted.f1", "test_ece_raw": "calibration.test.raw_ece",
            "test_ece_calibrated": "calibration.test.calibrated_ece", "review_threshold": "calibration.map.threshold",
            "reviewed_cer_base": "reviewed.base.cer", "reviewed_cer_adapted": "reviewed.adapted.cer"}


def run(params: Params) -> dict:
    """Write the evaluation metrics, the error gallery and the plots; returns the report."""
    e, paths = params.evaluate, params.paths
    model_dir, out = paths.train.model, paths.evaluate
    lexicon = read_lexicon(params.data.path)
    chain = Postprocessor(params.postprocess, lexicon)
    test = LineDataset.from_accepted(paths.validate_.accepted, "test")
    general = general_lines(paths.general.lines, "test")
    base = resolve_base(params).load()
    adapted = load_model(model_dir)
    refs = test.texts()

    guard, sources = guard_lines(paths.validate_.guard)
    report: dict = {"test": {}, "guard": {"kind": "real", "lines": len(guard), "digest": guard.digest()},
                    "general": {"kind": "synthetic", "lines": len(general)},
                    "test_set": {"lines": len(test), "digest": test.digest()}}
    readings: dict[str, list[Prediction]] = {}
    for name, model in (("base", base), ("adapted", adapted)):
        raw, post, readings[name] = measure(model, test, lexicon, chain, e.batch_size)
        report["test"][name] = raw | {"latency": latency_ms(model, test, e.latency_lines)}
        report["test"][f"{name}_postprocessed"] = post
        report["general"][name] = measure(model, general, [], None, e.batch_size)[0]
        if len(guard):
            raw, _, read = measure(model, guard, [], None, e.batch_size)
            report["guard"][name] = raw | {"by_source": _by_source(read, guard, sources)}
    b, a = report["test"]["base"]["cer"], report["test"]["adapted"]["cer"]
    report["test"]["cer_relative_reduction"] = (b - a) / b if b else 0.0
    report["general"]["cer_change_points"] = 100 * (report["general"]["adapted"]["cer"]
                                                   - report["general"]["base"]["cer"])
    if len(guard):
        report["guard"]["cer_change_points"] = 100 * (report["guard"]["adapted"]["cer"]
                                                     - report["guard"]["base"]["cer"])

    # the base model's vocabulary defines "out of vocabulary" (characters the adapter had to add)
    oov = base.unknown_characters(refs)
    texts = {name: [p.text for p in preds] for name, preds in readings.items()}
    by_bucket = {name: cer_by_bucket(texts[name], refs, oov) for name in texts}
    report["buckets"] = {bucket: {"lines": figures["lines"],
                                  **{f"{name}_cer": by_bucket[name][bucket]["cer"] for name in texts}}
                         for bucket, figures in by_bucket["adapted"].items()}
    report["confusions"] = top_confusions(texts["adapted"], refs, e.confusions)

    report["pages"] = evaluate_page_split(params, {"base": base, "adapted": adapted}, test)
    report["calibration"] = calibrate_confidence(params, adapted, test, readings["adapted"])
    report["reviewed"] = reviewed_slice(test, readings)
    calibrated = Calibration.from_dict(report["calibration"]["map"])
    write_json(out.drift_reference, drift_reference(test, readings["adapted"], calibrated))

    write_json(out.metrics, report)
    write_headline(out.headline, report, HEADLINE)
    _write_plots(out, by_bucket, texts["adapted"], refs)
    gallery = [GalleryLine(line.path, line.text, p.text, p.confidence, baseline=q.text)
               for line, p, q in zip(test, readings["adapted"], readings["base"], strict=True)]
    summary = {"model": str(model_dir), "test lines": len(test),
               "CER adapted / base": f"{100 * a:.2f}% / {100 * b:.2f}%",
               "exact match adapted": f"{100 * report['test']['adapted']['exact_match']:.1f}%",
               "lines read wrongly": sum(g.prediction != g.reference for g in gallery)}
    render_gallery(worst_lines(gallery, e.gallery_size), report["confusions"], summary,
                   out.gallery, title="Error gallery: adapted model on the test split")
    log_to_active_run(report, prefix="evaluate")  # under `mlflow run -e evaluate` only
    return report


def _by_source(predictions: list[Prediction], lines: LineDataset, sources: list[str]) -> dict[str, dict]:
    by: dict[str, tuple[list[str], list[str]]] = {}
    for prediction, line, source in zip(predictions, lines, sources, strict=True):
        hyps, refs = by.setdefault(source, ([], []))
        hyps.append(prediction.text)
        refs.append(line.text)
    return {source: {"lines": len(refs), "cer": cer(hyps, refs)} for source, (hyps, refs) in sorted(by.items())}


def drift_reference(test: LineDataset, readings: list[Prediction], calibration: Calibration) -> dict:
    """The test split as the service would see and answer it: each line's look and its reading."""
    rows = [drift.image_features(test.image(i)) | drift.reading_features(p.text, calibration(p.confidence))
            for i, p in enumerate(readings)]
    return {"lines": len(rows), "features": drift.profile(rows)}


def calibrate_confidence(params: Params, model: OCRModel, test: LineDataset, readings: list[Prediction]) -> dict:
    """Fit the line confidence's calibration on the validation lines (and their degraded copies), assess it on
    the test split as it is and degraded alike, draw the reliability diagram; the report holds the map the
    register stage packages with the model."""
    c, out = params.evaluate.calibration, params.paths.evaluate

    def exactness(images: list[Image.Image], refs: list[str]) -> tuple[list[float], list[bool]]:
        predictions = model.predict(images, batch_size=params.evaluate.batch_size)
        return [p.confidence for p in predictions], [p.text == r for p, r in zip(predictions, refs, strict=True)]

    val = LineDataset.from_accepted(params.paths.validate_.accepted, "val")
    images = [val.image(i) for i in range(len(val))]
    images += calibrating.degraded(images, c.degraded_copies, c.strength, c.seed)
    fitted, figures = calibrating.calibrate(*exactness(images, val.texts() * (1 + c.degraded_copies)), c.method,
                                            c.target_exact, c.bins, c.seed)
    test_images = [test.image(i) for i in range(len(test))]
    assessed = {"test": calibrating.assess(fitted, [p.confidence for p in readings],
                                           [p.text == r for p, r in zip(readings, test.texts(), strict=True)],
                                           c.bins)}
    if c.degraded_copies:
        worse = calibrating.degraded(test_images, c.degraded_copies, c.strength, c.seed + 1)
        assessed["test degraded"] = calibrating.assess(fitted, *exactness(worse, test.texts() * c.degraded_copies),
                                                       c.bins)
    for name, rows in calibrating.plot_rows(assessed).items():
        write_json(out.reliability / f"{name}.json", rows, indent=1)
    calibrating.draw(assessed, out.reliability_png)
    return {"map": fitted.to_dict(), "fit": figures,
            **{name.replace(" ", "_"): {k: v for k, v in figures_.items() if k != "reliability"}
               for name, figures_ in assessed.items()}}


def evaluate_page_split(params: Params, models: dict[str, OCRModel], lines: LineDataset) -> dict:
    """Both models on the page test split (the same detector), page mode vs line mode on the test lines, the
    page gallery and the page plot."""
    e, out = params.evaluate, params.paths.evaluate
    pages = labelled_pages(params.paths.validate_.pages, "test")
    if not pages:
        write_gallery(out.page_gallery, [], None)
        write_json(out.page_plot, [], indent=1)
        return {"skipped": "no validated test pages (data.pages)"}
    reader = page_reader(params.serve, saved_detector(params.paths.train.model))
    figures: dict = {"test_set": {"pages": len(pages), "lines": sum(len(p.truth) for p in pages)}}

    def recognizer(model: OCRModel) -> Callable[[list[Image.Image]], list[Prediction]]:
        return lambda crops: model.predict(crops, batch_size=e.batch_size)

    readings = {}
    for name, model in models.items():
        figures[name], *readings[name] = evaluate_pages(pages, reader, recognizer(model))
    found, matches = readings["adapted"]
    figures["page_vs_line"] = page_vs_line([lines.image(i) for i in range(len(lines))], reader,
                                           recognizer(models["adapted"]))

    # the adapted model's worst pages (page CER), drawn
    page_cer = [cer(["\n".join(t for t, _ in f)], ["\n".join(t for t, _ in p.truth)]) for p, f in zip(pages, found,
                                                                                                   strict=True)]
    worst = sorted(range(len(pages)), key=lambda i: -page_cer[i])[: e.page_gallery_size]
    drawn = [(pages[i].name, draw_page(pages[i].image, [q for _, q in pages[i].truth], [q for _, q in found[i]],
                                       matches[i], pages[i].ignore)) for i in worst]
    captions = [f"{pages[i].name} ({pages[i].capture}): page CER {100 * page_cer[i]:.1f}%, "
                f"{len(matches[i].missed)} missed" for i in worst]
    write_gallery(out.page_gallery, drawn, contact_sheet([d for _, d in drawn], captions))
    bars = [{"capture": f"{capture} · {name}", "page_cer": by["page_cer"], "f1": by["f1"], "pages": by["pages"]}
            for name in models for capture, by in figures[name]["by_capture"].items()]
    write_json(out.page_plot, bars, indent=1)
    return figures


def summary(report: dict) -> list[str]:
    test, general, pages = report["test"], report["general"], report["pages"]
    lines = [f"test CER {test['base']['cer']:.4f} -> {test['adapted']['cer']:.4f} "
            f"({test['cer_relative_reduction']:.0%} lower; post-processed {test['adapted_postprocessed']['cer']:.4f}); "
            f"general CER change {general['cer_change_points']:+.2f} points (synthetic)"]
    if "adapted" in (guard := report["guard"]):
        lines.append(f"guard ({guard['lines']} real scanned lines): CER {guard['base']['cer']:.4f} -> "
                     f"{guard['adapted']['cer']:.4f} ({guard['cer_change_points']:+.2f} points)")
    cal, fit = report["calibration"]["test"], report["calibration"]["fit"]
    lines.append(f"confidence calibrated ({fit['method']}, {fit['lines']} validation lines): test ECE "
                 f"{cal['raw_ece']:.4f} -> {cal['calibrated_ece']:.4f}; review threshold "
                 f"{report['calibration']['map']['threshold']:.3f} ({cal['share_below']:.1%} of test lines under it, "
                 f"{cal['wrong_below']} of {cal['wrong']} wrong ones)")
    if "adapted" in (reviewed := report.get("reviewed", {})):
        lines.append(f"reviewed lines ({reviewed['lines']} held out): CER {reviewed['base']['cer']:.4f} -> "
                     f"{reviewed['adapted']['cer']:.4f}")
    if "skipped" in pages:
        return [*lines, f"pages: {pages['skipped']}"]
    return [*lines, f"pages ({pages['test_set']['pages']}): detection F1 {pages['adapted']['f1']:.3f}, page CER "
            f"{pages['base']['page_cer']:.4f} -> {pages['adapted']['page_cer']:.4f} (the same lines cropped from "
            f"their labels: {pages['adapted']['labelled_line_cer']:.4f}), "
            f"{pages['adapted']['pages_per_s']:.2f} pages/s"]


def _write_plots(paths: EvaluatePaths, by_bucket: dict[str, dict], predictions: list[str],
                 references: list[str]) -> None:
    """CER by bucket (bar chart) and character confusions (DVC confusion matrix of character edits)."""
    bars = [{"bucket": f"{bucket} · {name}", "cer": figures["cer"], "lines": figures["lines"]}
            for bucket in by_bucket["adapted"] for name, rows in by_bucket.items() for figures in [rows[bucket]]]
    write_json(paths.buckets, bars, indent=1)
    edits = [{"reference": r, "predicted": p} for r, p in confusions(predictions, references)]
    if not edits:  # keep the plot renderable when every line is read exactly
        edits = [{"reference": EMPTY, "predicted": EMPTY}]
    write_json(paths.confusions, edits, indent=1)
