"""What several stages share: the base model and its family, the general lines, the version's registry facts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ocrops import family as registry
from ocrops.config import Params
from ocrops.data.contract import read_labels
from ocrops.data.lines import Line, LineDataset
from ocrops.errors import ErrorCode, OcropsError
from ocrops.family import Family

if TYPE_CHECKING:
    from ocrops.models.base import OCRModel


def base_family(params: Params) -> Family:
    """The family ``train.base`` belongs to (a registered version's ``family`` tag for a ``models:/`` URI)."""
    base = params.train.base
    if base.startswith("models:/"):
        from ocrops.tracking import registered_version, setup

        setup(params)
        version = registered_version(base)
        return registry.get(version.tags.get("family", ""))
    return registry.for_base(base)


def base_model(params: Params) -> OCRModel:
    """The model ``train.base`` names: a preset, PREFIX:LOCATION, a saved model folder, or ``models:/NAME@alias``
    from the MLflow registry (fine-tune a registered version further)."""
    from ocrops.models import load_base, load_model

    base = params.train.base
    if base.startswith("models:/"):
        from ocrops.tracking import download_registered, setup

        setup(params)
        return load_model(download_registered(base))
    return load_base(base, params)


def mixin_lines(params: Params) -> LineDataset | None:
    """The general lines training mixes in (``train.general_source``): rendered ones, the guard set's train
    rows (real scans, pages the guard's test rows do not come from), or both; None when the ratio is 0."""
    t, paths = params.train, params.paths
    if t.general_ratio <= 0:
        return None
    lines: list[Line] = []
    if t.general_source in ("synthetic", "both"):
        lines += general_lines(paths.general.lines, "train").lines
    if t.general_source in ("real", "both"):
        guard = Path(paths.validate_.guard)
        real = LineDataset.from_accepted(guard, "train").lines if guard.exists() else []
        if not real:
            raise OcropsError(ErrorCode.INVALID_INPUT, f"train.general_source {t.general_source!r} needs real "
                                                       f"general lines: {guard} has no train rows (data.guard)")
        lines += real
    return LineDataset(lines, "general")


def general_lines(general_dir: str | Path, split: str) -> LineDataset:
    """The general (non-domain) lines of one split, as rendered by the ``general`` stage."""
    rows, _ = read_labels(general_dir)
    return LineDataset([Line(str(Path(general_dir) / r.image), r.text) for r in rows if r.split == split], "general")


def guard_lines(accepted: str | Path) -> tuple[LineDataset, list[str]]:
    """The guard set's held-out (test) lines as the validate stage accepted them, and each line's source."""
    path = Path(accepted)
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()] \
        if path.exists() else []
    rows = [r for r in rows if r["split"] == "test"]
    return LineDataset([Line(r["path"], r["text"]) for r in rows], "guard"), [r.get("source", "") for r in rows]
