"""The base model ``train.base`` names, resolved once into one object: its family, the family's settings and
where the weights come from. Every stage that needs the base (validate, train, evaluate) and ``ocrops evaluate``
take it from here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ocrops import families
from ocrops.config import Params

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ocrops.families import Family
    from ocrops.models.interface import OCRModel


@dataclass(frozen=True)
class Base:
    """A resolved base model."""

    spec: str  # as params.yaml writes it (train.base)
    family: Family
    settings: BaseModel | None  # the family's section of params.yaml, validated
    source: Literal["preset", "saved", "registry"]
    path: Path | None = None  # the saved model folder (downloaded for a registered version)

    def vocabulary(self) -> frozenset[str] | None:
        """The characters this base can emit (None: any text)."""
        return self.family.code().vocabulary(self.path if self.path is not None else self.spec)

    def load(self) -> OCRModel:
        """The model itself (a fresh copy on every call)."""
        code = self.family.code()
        if self.path is not None:
            return code.load(self.path)
        return code.pretrained(self.spec, self.settings)


def resolve_base(params: Params) -> Base:
    """``train.base``: a preset, PREFIX:LOCATION, a saved model folder, or ``models:/NAME@alias`` from the MLflow
    registry (fine-tune a registered version further; its family is read from the model it holds)."""
    spec = params.train.base
    if spec.startswith("models:/"):
        from ocrops.tracking import download_registered, setup

        setup(params)
        path = download_registered(spec)
        family = families.saved_family(path)
        return Base(spec, family, families.settings_for(params, family), "registry", path)
    family = families.for_base(spec)
    settings = families.settings_for(params, family)
    if family.claims(spec):
        return Base(spec, family, settings, "preset")
    return Base(spec, family, settings, "saved", Path(spec))
