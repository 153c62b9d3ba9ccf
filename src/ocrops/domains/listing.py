"""``ocrops domain list``: each domain's data version, and the champion its registered model serves."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ocrops.config import Params, load_params
from ocrops.domains.scaffold import domains
from ocrops.registry.versions import CHAMPION
from ocrops.tracking import tracking_uri

FIGURES = ("test_cer", "guard_cer")  # the version tags shown, as the register stage writes them


@dataclass(frozen=True)
class Domain:
    name: str
    folder: Path
    model: str  # the registered model's name
    data: str  # the data version: DVC's digest and file count, or why there is none
    champion: str | None  # the champion's version number, None where there is none (yet)
    figures: dict[str, float]  # the champion's FIGURES


def data_version(folder: Path, params: Params) -> str:
    dvc_file = folder / f"{params.data.path}.dvc"
    if not dvc_file.exists():
        return f"not versioned (dvc add {params.data.path})"
    out = ((yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}).get("outs") or [{}])[0]
    return f"{str(out.get('md5', '?'))[:8]} ({out.get('nfiles', '?')} files)"


def _store(params: Params, folder: Path) -> str:
    """The domain's MLflow store as seen from anywhere: a relative sqlite file is the domain folder's."""
    uri = tracking_uri(params)
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not os.path.isabs(uri[len(prefix):]):
        return prefix + str((folder / uri[len(prefix):]).resolve())
    return uri


def describe(folder: Path, name: str) -> Domain:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    params = load_params(folder / "params.yaml")
    model = params.mlflow.registered_model
    champion, figures = None, {}
    store = _store(params, folder)
    # a store that is not there holds nothing registered yet: listing makes none
    if not store.startswith("sqlite:///") or Path(store[len("sqlite:///"):]).exists():
        try:
            version = MlflowClient(tracking_uri=store).get_model_version_by_alias(model, CHAMPION)
            champion = str(version.version)
            figures = {k: float(version.tags[k]) for k in FIGURES if k in version.tags}
        except MlflowException:  # no such model or alias yet
            pass
    return Domain(name, folder, model, data_version(folder, params), champion, figures)


def list_domains(project: Path) -> list[Domain]:
    """The project's own pipeline (the default domain, '.'), then each domain under pipelines/."""
    found = [describe(project, ".")]
    return found + [describe(folder, folder.name) for folder in domains(project)]
