"""dvc stage `evaluate`: base vs adapted model on the held-out test split and on general lines."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ocrops.adapter import resolve_base
from ocrops.config import load_params
from ocrops.data.contract import read_lexicon
from ocrops.data.lines import LineDataset
from ocrops.metrics import score
from ocrops.models.base import OCRModel, load_model

ACCEPTED = Path("outputs/validate/accepted.jsonl")
MODEL = Path("outputs/train/model")
REPORT = Path("reports/evaluate.json")


def measure(model: OCRModel, data: LineDataset, lexicon: list[str]) -> dict:
    images = [data.image(i) for i in range(len(data))]
    started = time.perf_counter()
    predictions = model.predict(images)
    seconds = time.perf_counter() - started
    figures = score([p.text for p in predictions], data.texts(), lexicon).to_dict()
    figures["lines_per_s"] = len(images) / seconds
    return figures


def main() -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from train import general_lines  # the same general split the train stage mixes in

    params = load_params("params.yaml")
    lexicon = read_lexicon(params.data.path)
    test = LineDataset.from_accepted(ACCEPTED, "test")
    general = general_lines("test")
    base, adapted = resolve_base(params.train.base), load_model(MODEL)
    report = {
        "test": {"base": measure(base, test, lexicon), "adapted": measure(adapted, test, lexicon)},
        "general": {"base": measure(base, general, []), "adapted": measure(adapted, general, [])},
    }
    b, a = report["test"]["base"]["cer"], report["test"]["adapted"]["cer"]
    report["test"]["cer_relative_reduction"] = (b - a) / b if b else 0.0
    report["general"]["cer_change_points"] = 100 * (report["general"]["adapted"]["cer"]
                                                   - report["general"]["base"]["cer"])
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"evaluate: test CER {b:.4f} -> {a:.4f} ({report['test']['cer_relative_reduction']:.0%} lower); "
          f"general CER change {report['general']['cer_change_points']:+.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
