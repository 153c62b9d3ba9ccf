"""Model families (one folder each) behind one interface; find them through ocrops.family."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ocrops import family as registry

if TYPE_CHECKING:  # importing this package stays cheap: family records are read before any model code
    from ocrops.config import Params
    from ocrops.models.base import OCRModel


def load_model(path: str | Path) -> OCRModel:
    """Load a model saved by :meth:`OCRModel.save`, whatever its family."""
    return registry.saved_family(path).code().load(Path(path))


def pretrained(base: str, params: Params | None = None) -> OCRModel:
    """The released model a preset or PREFIX:LOCATION base names, with its family's settings from ``params``."""
    family = registry.for_base(base)
    settings = params.family_settings(family) if params is not None else family.default_settings()
    return family.code().pretrained(base, settings)


def load_base(base: str, params: Params | None = None) -> OCRModel:
    """A preset, PREFIX:LOCATION, or a saved model directory (``models:/`` URIs: ocrops.tracking first)."""
    family = registry.for_base(base)
    if not family.claims(base):  # a saved model directory
        return family.code().load(Path(base))
    settings = params.family_settings(family) if params is not None else family.default_settings()
    return family.code().pretrained(base, settings)


__all__ = ["load_base", "load_model", "pretrained"]
