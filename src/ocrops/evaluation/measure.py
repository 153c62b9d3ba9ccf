"""How well and how fast a model reads lines: the one measurement the evaluate stage, ``ocrops evaluate`` and
``ocrops ablate`` share, so their figures compare. Pages: ocrops.evaluation.pages."""

from __future__ import annotations

import time

from ocrops.data.lines import LineDataset
from ocrops.evaluation.bench import latency_summary
from ocrops.evaluation.metrics import cer, score
from ocrops.inference.types import Prediction
from ocrops.models.interface import OCRModel
from ocrops.postprocess import Postprocessor


def read_lines(model: OCRModel, data: LineDataset, batch_size: int = 16) -> tuple[list[Prediction], float]:
    """Predictions for every line, and the throughput (lines/s) of doing so in batches."""
    images = [data.image(i) for i in range(len(data))]
    started = time.perf_counter()
    predictions = model.predict(images, batch_size=batch_size)
    return predictions, len(images) / (time.perf_counter() - started)


def latency_ms(model: OCRModel, data: LineDataset, lines: int, warmup: int = 3) -> dict[str, float]:
    """Per-line latency at batch 1 (images already decoded): p50, p95, p99, mean in milliseconds."""
    images = [data.image(i) for i in range(min(lines, len(data)))]
    for image in images[:warmup]:
        model.predict([image], batch_size=1)
    times = []
    for image in images:
        started = time.perf_counter()
        model.predict([image], batch_size=1)
        times.append(time.perf_counter() - started)
    return latency_summary(times)


def measure(model: OCRModel, data: LineDataset, lexicon: list[str], chain: Postprocessor | None,
            batch_size: int = 16) -> tuple[dict, dict | None, list[Prediction]]:
    """Raw figures (with throughput), post-processed figures (None without a chain), the predictions."""
    predictions, per_s = read_lines(model, data, batch_size)
    refs = data.texts()
    raw = score([p.text for p in predictions], refs, lexicon).to_dict() | {"lines_per_s": per_s}
    if chain is None:
        return raw, None, predictions
    post = score([chain(p.text, p.confidence) for p in predictions], [chain.redact(r) for r in refs], lexicon)
    return raw, post.to_dict(), predictions


def reviewed_slice(data: LineDataset, readings: dict[str, list[Prediction]]) -> dict:
    """The lines of ``data`` that came from review (``ocrops review pull``: lines a served model doubted,
    corrected), read by each model of ``readings``: what a round of corrections bought."""
    picked = [i for i, line in enumerate(data) if line.source == "review"]
    if not picked:
        return {"skipped": "no reviewed lines in the test split (`ocrops review pull` adds them)"}
    refs = [data[i].text for i in picked]
    figures: dict = {"lines": len(picked)}
    for name, predictions in readings.items():
        hyps = [predictions[i].text for i in picked]
        figures[name] = {"cer": cer(hyps, refs), "exact_match": sum(h == r for h, r in zip(hyps, refs, strict=True))
                         / len(refs)}
    return figures
