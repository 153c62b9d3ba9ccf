"""What several stages share: the general lines training mixes in and the guard set's held-out lines."""

from __future__ import annotations

from pathlib import Path

from ocrops.config import Params
from ocrops.data.contract import read_labels
from ocrops.data.files import read_jsonl
from ocrops.data.lines import Line, LineDataset
from ocrops.errors import ErrorCode, OcropsError


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
    rows = [r for r in read_jsonl(accepted, missing_ok=True) if r["split"] == "test"]
    return LineDataset([Line(r["path"], r["text"]) for r in rows], "guard"), [r.get("source", "") for r in rows]
