"""The ``register`` stage: the evaluated model, packaged with its post-processing, as a new registry version
with alias ``candidate``; then loaded back by alias to prove it reads the test split as evaluated."""

from __future__ import annotations

import json
from pathlib import Path

from ocrops.config import Params
from ocrops.data.contract import read_lexicon
from ocrops.data.lines import LineDataset
from ocrops.errors import PipelineError
from ocrops.postprocess import Postprocessor
from ocrops.registry import register, verify_registered
from ocrops.tracking import dvc_digest, git_commit

# the reloaded model must read the test split as the evaluate stage did (same code, same weights)
CER_TOLERANCE = 1e-9


def run_register(params: Params, model_dir: Path, accepted: Path, evaluation_path: Path, train_report: Path,
                 out: Path, report_path: Path) -> dict:
    evaluation = json.loads(evaluation_path.read_text(encoding="utf-8"))
    train = json.loads(train_report.read_text(encoding="utf-8")) if train_report.exists() else {}
    test = LineDataset.from_accepted(accepted, "test")
    if test.digest() != evaluation["test_set"]["digest"]:
        raise PipelineError(f"{evaluation_path} was computed on another test set; rerun the evaluate stage")
    chain = Postprocessor(params.postprocess, read_lexicon(params.data.path))
    lineage = {"mlflow.source.git.commit": git_commit() or "", "data_dvc_md5": dvc_digest(f"{params.data.path}.dvc")
               or "", "train_run_id": train.get("mlflow_run_id", "")}
    registered = register(params, model_dir, evaluation, chain, Path(test[0].path),
                          train_run_id=train.get("mlflow_run_id"), lineage=lineage)
    reloaded = verify_registered(registered.model_uri, [line.path for line in test], test.texts(), chain,
                                 batch_size=params.evaluate.batch_size)
    expected = {"cer": evaluation["test"]["adapted"]["cer"],
                "cer_postprocessed": (evaluation["test"]["adapted_postprocessed"] or {}).get("cer")}
    report = {
        "name": registered.name, "version": int(registered.version), "alias": "candidate",
        "model_uri": registered.model_uri, "run_id": registered.run_id,
        "reloaded_test_cer": reloaded["cer"], "reloaded_test_cer_postprocessed": reloaded["cer_postprocessed"],
        "matches_evaluate": all(v is None or abs(reloaded[k] - v) <= CER_TOLERANCE for k, v in expected.items()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report | {"tags": registered.tags}, indent=2) + "\n", encoding="utf-8")
    # the committed metrics leave out what differs between machines (version numbers, run ids)
    metrics = {k: report[k] for k in ("alias", "reloaded_test_cer", "reloaded_test_cer_postprocessed",
                                      "matches_evaluate")}
    report_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    if not report["matches_evaluate"]:
        raise PipelineError(f"the registered model reads the test split with CER {reloaded} but the evaluate "
                            f"stage reported {expected}: the packaged model differs from the evaluated one")
    return report
