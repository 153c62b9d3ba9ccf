"""The ``evaluate`` stage: base vs adapted model on the held-out test split and on general lines."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ocrops.adapter import evaluate_model, resolve_base
from ocrops.config import Params
from ocrops.data.contract import read_lexicon
from ocrops.data.lines import LineDataset
from ocrops.models.base import OCRModel, load_model
from ocrops.stages.train import family_settings, general_lines


def measure(model: OCRModel, data: LineDataset, lexicon: list[str]) -> dict:
    images = [data.image(i) for i in range(len(data))]
    started = time.perf_counter()
    figures = evaluate_model(model, images, data.texts(), lexicon).to_dict()
    figures["lines_per_s"] = len(images) / (time.perf_counter() - started)
    return figures


def run_evaluate(params: Params, accepted: Path, general_dir: Path, model_dir: Path, report_path: Path) -> dict:
    lexicon = read_lexicon(params.data.path)
    test, general = LineDataset.from_accepted(accepted, "test"), general_lines(general_dir, "test")
    base = resolve_base(params.train.base, **family_settings(params))
    adapted = load_model(model_dir)
    report = {
        "test": {"base": measure(base, test, lexicon), "adapted": measure(adapted, test, lexicon)},
        "general": {"base": measure(base, general, []), "adapted": measure(adapted, general, [])},
    }
    b, a = report["test"]["base"]["cer"], report["test"]["adapted"]["cer"]
    report["test"]["cer_relative_reduction"] = (b - a) / b if b else 0.0
    report["general"]["cer_change_points"] = 100 * (report["general"]["adapted"]["cer"]
                                                   - report["general"]["base"]["cer"])
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
