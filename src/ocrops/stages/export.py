"""The ``export`` stage: the family's exporter writes the inference graphs of the trained model (e.g. ONNX,
optimised, int8, TensorRT where the machine has it); every exported engine must read the test split as the
trained model does (lossy ones are reported). A family without an exporter is recorded as skipped, with the
reason."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ocrops.config import Params
from ocrops.data.files import write_headline, write_json
from ocrops.data.lines import LineDataset
from ocrops.data.split import content_hash
from ocrops.evaluation.parity import Parity, check, compare
from ocrops.families import saved_family, settings_for
from ocrops.inference.runtime import EXPORT_MANIFEST
from ocrops.models.interface import NotExportable


def export_model(params: Params, model_dir: Path, out: Path, report_path: Path, version: dict | None = None) -> dict:
    """Export the model in ``model_dir`` into ``out`` (export.json + graphs), write the report (parity on the
    test split), then refuse an engine that reads differently from the model. Also used by the package stage
    for a version the pipeline did not export."""
    e = params.export
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    family = saved_family(model_dir)
    code = family.code()
    model = code.load(model_dir)
    test = LineDataset.from_accepted(params.paths.validate_.accepted, "test")
    images, texts, paths = [test.image(i) for i in range(len(test))], test.texts(), [line.path for line in test]
    version = version or {}
    manifest: dict = {"family": family.name, "registered_model": version.get("name"),
                      "version": version.get("version")}
    started = time.perf_counter()
    try:
        exported = code.export(model, model_dir, out, images, e, settings_for(params, family))
    except NotExportable as exc:
        skipped = {"status": "skipped", "reason": str(exc)}
        write_json(out / EXPORT_MANIFEST, manifest | {"files": {}, "skipped": skipped})
        report = {"family": family.name, "status": "skipped", "reason": str(exc), "parity": {},
                  "tensorrt": {"status": "skipped", "reason": str(exc)}}
        write_json(report_path, report)
        return report
    export_s = time.perf_counter() - started
    reference = exported.reference or model.predict(images, batch_size=e.batch_size)
    parity: dict[str, Parity] = {name: compare(name, reference, reader.predict(images, e.batch_size), texts, paths)
                                 for name, reader in exported.readers.items()}
    files = exported.files
    manifest |= {"files": files, "sha256": {k: content_hash(out / v) for k, v in files.items() if (out / v).is_file()},
                 **{k: v for k, v in exported.manifest.items() if k != "tensorrt"}}
    write_json(out / EXPORT_MANIFEST, manifest)
    tensorrt = exported.manifest.get("tensorrt") or {
        "status": "skipped", "reason": exported.skipped.get("tensorrt_fp16", "not built")}
    report = {
        "family": family.name,
        "status": "exported",
        "export_seconds": export_s,
        "size_mb": {k: (out / v).stat().st_size / 1e6 for k, v in files.items() if (out / v).is_file()},
        "parity": {k: p.to_dict() for k, p in parity.items()},
        "skipped": exported.skipped,
        "tensorrt": tensorrt,
    }
    write_json(report_path, report)
    for name, p in parity.items():  # FP16 rounding may flip a near tie; the same bounds still apply
        if name not in exported.lossy:
            check(p, e.min_identical, e.max_cer_diff_points)
    return report


def run(params: Params) -> dict:
    paths = params.paths
    registered = paths.register_.version
    version = json.loads(registered.read_text(encoding="utf-8")) if registered.exists() else {}
    report = export_model(params, paths.train.model, paths.export.engines, paths.export.metrics, version)
    write_headline(paths.export.headline, report, {f"{name}_identical_share": f"parity.{name}.identical_share"
                                                   for name in report.get("parity", {})})
    return report


def summary(report: dict) -> list[str]:
    if report["status"] == "skipped":
        return [f"skipped ({report['reason']})"]
    lines = [f"{name}: {p['identical_share']:.2%} of {p['lines']} lines identical to the model, "
             f"CER {p['cer_engine']:.4f} ({p['cer_diff_points']:+.3f} points)" for name, p in report["parity"].items()]
    trt = report["tensorrt"]
    return lines + [f"tensorrt {trt['status']}" + (f" ({trt['reason']})" if "reason" in trt else "")]
