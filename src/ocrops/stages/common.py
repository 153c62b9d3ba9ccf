"""What several stages share: the base model and its family, the general lines, the version's registry facts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ocrops import family as registry
from ocrops.config import Params
from ocrops.data.contract import read_labels
from ocrops.data.lines import Line, LineDataset
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


def general_lines(general_dir: str | Path, split: str) -> LineDataset:
    """The general (non-domain) lines of one split, as rendered by the ``general`` stage."""
    rows, _ = read_labels(general_dir)
    return LineDataset([Line(str(Path(general_dir) / r.image), r.text) for r in rows if r.split == split], "general")
