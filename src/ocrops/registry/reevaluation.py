"""``ocrops evaluate VERSION``: read a registered version (its model and its own post-processing chain, as
registered) on the current test split, or on another dataset's, and record the figures on the version under
that test set's digest. Versions registered on different test sets become comparable, in the gate and on the
version page."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow.tracking import MlflowClient

from ocrops.config import Params
from ocrops.data.contract import read_lexicon
from ocrops.data.lines import Line, LineDataset
from ocrops.data.validation import Vocabulary, validate_dataset
from ocrops.errors import ErrorCode, OcropsError
from ocrops.evaluation.measure import measure, reviewed_slice
from ocrops.evaluation.records import Figures
from ocrops.models import load_model
from ocrops.postprocess import POSTPROCESS_FILE, Postprocessor
from ocrops.registry.versions import refresh_description
from ocrops.tracking import download_registered, parse_version_ref, registered_version, setup
from ocrops.training.base import resolve_base


@dataclass
class TestSet:
    lines: LineDataset
    name: str
    lexicon: list[str]
    quarantined: int = 0


def test_set(params: Params, dataset: Path | None = None, split: str = "test") -> TestSet:
    """The validate stage's test split, or ``split`` of ``dataset`` after the same validation (rows it
    quarantines are counted and left out)."""
    if dataset is None:
        accepted = params.paths.validate_.accepted
        if not accepted.exists():
            raise OcropsError(ErrorCode.INVALID_INPUT, f"{accepted} does not exist: run `dvc repro validate` first")
        lines = LineDataset.from_accepted(accepted, split)
        return TestSet(lines, f"{params.data.path} ({split} split)", read_lexicon(params.data.path))
    base = resolve_base(params)
    report = validate_dataset(dataset, params, Vocabulary(base.family.name, base.vocabulary()))
    rows = [r for r in report.accepted if split == "all" or r.split == split]
    lines = LineDataset([Line((Path(dataset) / str(r.image)).as_posix(), str(r.text)) for r in rows], split)
    name = f"{dataset} ({'all rows' if split == 'all' else f'{split} split'})"
    return TestSet(lines, name, read_lexicon(dataset), len(report.quarantine))


def evaluate_version(params: Params, ref: str, data: TestSet) -> tuple[str, Figures, bool]:
    """Read version ``ref`` on ``data``; record the figures on it (tag ``evaluation.<digest>``) and rewrite its
    description. Returns (version, figures, recorded): on the test set it was registered with nothing is
    recorded, its figures stay those of registration."""
    if not len(data.lines):
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{data.name} has no lines to read")
    setup(params)
    client, name = MlflowClient(), params.mlflow.registered_model
    version = str(registered_version(parse_version_ref(ref, name)).version)
    with tempfile.TemporaryDirectory(prefix="ocrops-evaluate-") as tmp:
        model_dir = download_registered(f"models:/{name}/{version}", tmp)
        chain_file = model_dir.parent / POSTPROCESS_FILE  # the pyfunc's artifacts: the model and its chain
        if not chain_file.exists():
            raise OcropsError(ErrorCode.UNAVAILABLE, f"{name} version {version} carries no {POSTPROCESS_FILE}: "
                              "it was not registered by the register stage")
        chain = Postprocessor.load(chain_file)
        model = load_model(model_dir)
        raw, post, readings = measure(model, data.lines, data.lexicon, chain, params.evaluate.batch_size)
    post = post or raw
    reviewed = reviewed_slice(data.lines, {"version": readings})
    figures = Figures(name=data.name, digest=data.lines.digest(), lines=len(data.lines), cer=raw["cer"],
                      cer_postprocessed=post["cer"], term_recall_postprocessed=post["term_recall"],
                      exact_match=raw["exact_match"], evaluated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                      reviewed_lines=reviewed.get("lines", 0), reviewed_cer=reviewed.get("version", {}).get("cer"))
    recorded = client.get_model_version(name, version).tags.get("test_set_digest") != figures.digest
    if recorded:
        client.set_model_version_tag(name, version, *figures.tag())
        refresh_description(client, name, version)
    return version, figures, recorded
