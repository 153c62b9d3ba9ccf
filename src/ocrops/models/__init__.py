"""Model families (one folder each) behind one interface (``models.interface``); find them through
ocrops.families."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ocrops import families

if TYPE_CHECKING:  # importing this package stays cheap: family records are read before any model code
    from pydantic import BaseModel

    from ocrops.models.interface import OCRModel


def load_model(path: str | Path) -> OCRModel:
    """Load a model saved by :meth:`OCRModel.save`, whatever its family."""
    return families.saved_family(path).code().load(Path(path))


def pretrained(base: str, settings: BaseModel | None = None) -> OCRModel:
    """The released model a preset or PREFIX:LOCATION base names, with its family's settings (defaults if None)."""
    family = families.for_base(base)
    return family.code().pretrained(base, settings if settings is not None else family.default_settings())


def load_base(base: str, settings: BaseModel | None = None) -> OCRModel:
    """A preset, PREFIX:LOCATION, or a saved model folder (``models:/`` URIs: ocrops.training.base)."""
    family = families.for_base(base)
    if not family.claims(base):  # a saved model folder
        return family.code().load(Path(base))
    return pretrained(base, settings)


__all__ = ["load_base", "load_model", "pretrained"]
