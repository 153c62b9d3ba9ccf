"""The model-family registry: one record per family, looked up by name or by the base model a user names.

A family is one folder (model, exporter, inference reader: docs/architecture.md, "Adding a model family")
and one :class:`Family` record. The built-in families are listed in :data:`BUILTIN`; a family from another
package registers through the ``ocrops.families`` entry-point group::

    [project.entry-points."ocrops.families"]
    toy = "toyfam:family"

or by calling :func:`register`. Nothing outside a family's folder and this registry names a family.
"""

from __future__ import annotations

import functools
import importlib
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ocrops.errors import ErrorCode, OcropsError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ocrops.config import Params
    from ocrops.models.interface import ModelFamily

# A saved model directory names its family in this file (every family writes it).
FAMILY_FILE = "family.txt"
ENTRY_POINT_GROUP = "ocrops.families"
BUILTIN: tuple[str, ...] = ("ocrops.models.ppocr:family", "ocrops.models.glm_ocr:family")


def _import(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Family:
    """What the rest of ocrops knows of a family before its code is imported (importing it is cheap)."""

    name: str
    implementation: str  # "module:Class", a ocrops.models.interface.ModelFamily subclass, imported on first use
    presets: tuple[str, ...] = ()  # base names that mean the family's released model (train.base: ppocr-v4)
    prefix: str | None = None  # bases written PREFIX + location (train.base: glm-ocr:/models/GLM-OCR)
    section: str | None = None  # its settings section in params.yaml
    settings: str | None = None  # "module:Class", the pydantic model of that section
    runtime_packages: tuple[str, ...] = ()  # what its inference needs besides the common set
    description: str = ""
    _code: list = field(default_factory=list, compare=False, repr=False)

    def code(self) -> ModelFamily:
        """The family's implementation (imported once)."""
        if not self._code:
            self._code.append(_import(self.implementation)(self))
        return self._code[0]

    def settings_model(self) -> type[BaseModel] | None:
        return _import(self.settings) if self.settings else None

    def default_settings(self) -> BaseModel | None:
        model = self.settings_model()
        return model() if model is not None else None

    @property
    def package_dir(self) -> Path:
        """The folder holding the family's code (packaged with a registered model)."""
        module = importlib.import_module(self.implementation.partition(":")[0].rsplit(".", 1)[0])
        return Path(module.__file__).parent

    def claims(self, base: str) -> bool:
        return base in self.presets or (self.prefix is not None and base.startswith(self.prefix))


_lock = threading.Lock()
_registered: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family; registering the same record again is a no-op, another record under its name an error."""
    with _lock:
        known = _registered.get(family.name)
        if known is not None and known != family:
            raise OcropsError(ErrorCode.INVALID_INPUT,
                              f"two model families are named {family.name!r} ({known.implementation}, "
                              f"{family.implementation})")
        _registered[family.name] = family
    return family


@functools.cache
def _discover() -> None:
    for spec in BUILTIN:
        register(_import(spec))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        register(ep.load())


def families() -> dict[str, Family]:
    """Every registered family by name: the built-in ones and those of installed plug-ins."""
    _discover()
    return dict(sorted(_registered.items()))


def get(name: str) -> Family:
    found = families().get(name)
    if found is None:
        raise OcropsError(ErrorCode.INVALID_INPUT,
                          f"unknown model family {name!r}; known: {', '.join(families())} (a plug-in family "
                          f"registers through the {ENTRY_POINT_GROUP!r} entry point group)")
    return found


def saved_family(path: str | Path) -> Family:
    """The family of a saved model directory (its ``family.txt``)."""
    marker = Path(path) / FAMILY_FILE
    if not marker.exists():
        raise OcropsError(ErrorCode.UNAVAILABLE, f"{path} is not a saved ocrops model (no {FAMILY_FILE})")
    return get(marker.read_text(encoding="utf-8").strip())


def saved_detector(path: str | Path) -> Path:
    """The line detector (ONNX) a saved model reads pages with: its family's pairing (its preset's DBNet)."""
    return saved_family(path).code().detector(Path(path)).locate()


def for_base(base: str) -> Family:
    """The family of a base model spec: a preset, PREFIX:LOCATION, or a saved model directory.

    ``models:/`` URIs name a registered version: ocrops.training.base.resolve_base downloads it and reads the
    family of the model it holds.
    """
    for family in families().values():
        if family.claims(base):
            return family
    if Path(base).is_dir():
        return saved_family(base)
    presets = [p for f in families().values() for p in f.presets]
    prefixes = [f"{f.prefix}PATH" for f in families().values() if f.prefix]
    raise OcropsError(ErrorCode.INVALID_INPUT,
                      f"base model {base!r} is neither a preset ({', '.join(presets)}), "
                      f"{' or '.join(prefixes) or 'FAMILY:PATH'}, a models:/ URI, nor a saved model directory")


def sections() -> dict[str, Family]:
    """Families with a settings section in params.yaml, by section name."""
    return {f.section: f for f in families().values() if f.section}


def settings_for(params: Params, family: Family) -> BaseModel | None:
    """The family's section of params.yaml validated by its settings model (its defaults when params.yaml has
    none); None for a family without settings. A bad section is a 4002 naming the keys."""
    model = family.settings_model()
    if model is None:
        return None
    raw = params.section(family.section) if family.section else None
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise OcropsError(ErrorCode.INVALID_INPUT, f"params.yaml {family.section}: {problems}") from None


def check_sections(params: Params) -> None:
    """Every extra section of params.yaml belongs to a registered family and validates (a 4002 otherwise)."""
    owners = sections()
    for name in params.sections():
        owner = owners.get(name)
        if owner is None:
            raise OcropsError(ErrorCode.INVALID_INPUT, f"params.yaml: unknown section {name!r} "
                                                       f"(family sections: {', '.join(owners) or 'none'})")
        settings_for(params, owner)
