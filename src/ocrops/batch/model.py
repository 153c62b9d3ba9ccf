"""Which registered version a batch job reads with, and the UDF's settings for it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ocrops.config import Params
from ocrops.errors import ErrorCode, OcropsError

# the pyfunc's answer per image; ``lines`` is JSON, parsed into Parquet's nested type by the job
RESULT_TYPE = ("text string, raw_text string, confidence double, mode string, lines string, error_code long, "
               "error string")
# what versions registered since the batch job wrote documents answer besides: the page's upright size and turn
SIZE_TYPE = ", width long, height long, rotation long"


@dataclass(frozen=True)
class BatchModel:
    name: str
    version: str
    alias: str
    sizes: bool = True  # its answers carry width, height and rotation (documents can be written from them)

    @property
    def result_type(self) -> str:
        return RESULT_TYPE + (SIZE_TYPE if self.sizes else "")

    @property
    def uri(self) -> str:
        """The version itself, not the alias: every part of a job (and its resumption) reads with one model."""
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "alias": self.alias}


def resolve(params: Params, model: str | None = None) -> BatchModel:
    """``NAME@ALIAS`` (default: the registered model at ``batch.alias``) or ``NAME/VERSION`` -> the version, which
    must have been registered with page reading (its pyfunc takes a ``mode``)."""
    import mlflow

    from ocrops.tracking import parse_version_ref, registered_version, setup

    setup(params)
    ref = parse_version_ref(model or f"{params.mlflow.registered_model}@{params.batch.alias}")
    try:
        found = BatchModel(ref.name, str(registered_version(ref).version), ref.alias or "")
    except OcropsError as exc:
        hint = (" (nothing is promoted yet: `ocrops promote VERSION` or the MLflow UI sets it; --model NAME@candidate "
                "reads with the latest registered version)" if ref.alias == "champion" else "")
        raise OcropsError(exc.code, f"{exc.message}{hint}") from exc
    signature = mlflow.models.get_model_info(found.uri).signature
    names = {p.name for p in signature.params.params} if signature and signature.params else set()
    if "mode" not in names:
        raise OcropsError(ErrorCode.UNAVAILABLE,
                          f"{found.name} version {found.version} was registered before the packaged model read "
                          "pages; register a new version (dvc repro register) and promote it")
    outputs = set(signature.outputs.input_names()) if signature and signature.outputs else set()
    return dataclasses.replace(found, sizes={"width", "height", "rotation"} <= outputs)


def udf_params(params: Params) -> dict:
    """What the pyfunc is called with: the service's page-reader settings, so answers equal the Bento's."""
    b, s = params.batch, params.serve
    return {"mode": b.mode, "errors": "record", "batch_size": b.batch_size, "crop_margin": s.crop_margin,
            "unclip_ratio": s.unclip_ratio, "merge_gap": s.merge_gap}
