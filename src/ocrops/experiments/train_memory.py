"""Training memory against dataset size and batch width: peak RSS of training steps in fresh processes.

Dataset size: the pipeline's train lines repeated to 1k, 5k and 20k rows (the same widths, so only what scales
with the number of rows can move the figure), the trainer's own batching (length-grouped, shuffled), the same
number of steps each. Batch width: one step on a batch of the widest line a batch can hold (preprocess.MAX_WIDTH)
down to narrow ones. Steps are the trainer's: the model's CTC loss plus L2-SP, backward, AdamW with its parameter
groups.
"""

from __future__ import annotations

import random
import resource
import time

from ocrops.config import Params
from ocrops.data.files import write_json
from ocrops.experiments.bases import in_fresh_process

SIZES = (1000, 5000, 20000)
WIDTHS = (320, 800, 1600)


def _rss_gb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024**2


def _steps(params_json: dict, base: str, rows: int | None, width: int | None, steps: int) -> dict:
    """In a fresh process: ``steps`` training steps on ``rows`` lines (the trainer's batches), or one step on a
    batch of lines ``width`` pixels wide."""
    params = Params.model_validate(params_json)
    from ocrops.training.reproducibility import pin_kernels

    pin_kernels(params.train.threads)
    import torch
    from PIL import Image

    from ocrops.data.lines import LineDataset
    from ocrops.models import pretrained
    from ocrops.training.forgetting import Anchor
    from ocrops.training.trainer import FineTuner, optimizer_for

    torch.manual_seed(0)
    t = params.train
    train = LineDataset.from_accepted(params.paths.validate_.accepted, "train")
    model = pretrained(base)
    model.extend_vocabulary(sorted(model.unknown_characters(train.texts())))
    # what the trainer holds besides the model: the L2-SP anchor (a copy of the weights) and AdamW's two moments
    anchor = Anchor(model.module) if t.l2sp > 0 else None
    model.train_mode()
    optimizer = optimizer_for(model.module, t)
    if rows is not None:
        data = LineDataset([train[i % len(train)] for i in range(rows)])
        tuner = FineTuner(model, data, data, settings=t)
        items = [(data, i) for i in range(len(data))]
        rng = random.Random(t.seed)
        rng.shuffle(items)
        batches = tuner._length_grouped(items, t.batch_size, rng)[:steps]
    else:
        line = train.image(0)
        wide = line.resize((width, 48), Image.Resampling.BILINEAR)
        batches = [[(None, wide)] * t.batch_size]
    loaded = _rss_gb()
    started = time.perf_counter()
    widest = 0
    for batch in batches:
        images = [item if data is None else data.image(item) for data, item in batch]
        texts = ["Hemoglobin 13.5 g/dL"] * len(batch) if rows is None else [data[i].text for data, i in batch]
        widest = max(widest, max(round(48 * im.width / max(im.height, 1)) for im in images))
        loss = model.loss(images, texts)
        if anchor is not None:
            loss = loss + t.l2sp * anchor.penalty(model.module)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {"rss_loaded_gb": loaded, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
            "steps": len(batches), "widest_line_px": widest, "seconds": time.perf_counter() - started}


def measure(params: Params, base: str, steps: int = 30, progress=print) -> dict:
    """Peak RSS per dataset size (``steps`` steps each) and per batch width (one step), each in its own process."""
    data = params.model_dump(mode="json", by_alias=True)
    report: dict = {"base": base, "batch_size": params.train.batch_size, "by_rows": {}, "by_width": {}}
    for rows in SIZES:
        progress(f"train memory: {rows} rows")
        report["by_rows"][str(rows)] = in_fresh_process(_steps, data, base, rows, None, steps)
    for width in WIDTHS:
        progress(f"train memory: a batch {width} px wide")
        report["by_width"][str(width)] = in_fresh_process(_steps, data, base, None, width, 1)
    peaks = [r["peak_rss_gb"] for r in report["by_rows"].values()]
    report["rows_spread_gb"] = max(peaks) - min(peaks)
    return report


def write(report: dict, path) -> None:
    write_json(path, report)
    lines = [f"Peak RSS of training steps, base {report['base']}, batch {report['batch_size']}:", "",
             "| train rows | steps | widest line | RSS after loading | peak RSS |", "|---:|---:|---:|---:|---:|"]
    for rows, r in report["by_rows"].items():
        lines.append(f"| {rows} | {r['steps']} | {r['widest_line_px']} px | {r['rss_loaded_gb']:.2f} GB | "
                     f"{r['peak_rss_gb']:.2f} GB |")
    lines += ["", "| batch width | peak RSS (one step) |", "|---:|---:|"]
    lines += [f"| {w} px | {r['peak_rss_gb']:.2f} GB |" for w, r in report["by_width"].items()]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
