"""The ``register`` stage: the evaluated model, packaged with its post-processing, as a new registry version
with alias ``candidate``; then loaded back by alias to prove it reads the test split as evaluated."""

from __future__ import annotations

import json

from ocrops.config import Params
from ocrops.data.contract import read_lexicon
from ocrops.data.files import write_headline, write_json
from ocrops.data.lines import LineDataset
from ocrops.errors import PipelineError
from ocrops.postprocess import Calibration, Postprocessor
from ocrops.registry.versions import CANDIDATE, register, verify_registered
from ocrops.tracking import dvc_digest, git_commit

# the reloaded model must read the test split as the evaluate stage did (same code, same weights)
CER_TOLERANCE = 1e-9


def run(params: Params) -> dict:
    paths = params.paths
    evaluation = json.loads(paths.evaluate.metrics.read_text(encoding="utf-8"))
    train = json.loads(paths.train.metrics.read_text(encoding="utf-8")) if paths.train.metrics.exists() else {}
    test = LineDataset.from_accepted(paths.validate_.accepted, "test")
    if test.digest() != evaluation["test_set"]["digest"]:
        raise PipelineError(f"{paths.evaluate.metrics} was computed on another test set; rerun the evaluate stage")
    calibration = Calibration.from_dict(evaluation["calibration"]["map"])
    chain = Postprocessor(params.postprocess, read_lexicon(params.data.path), calibration)
    lineage = {"mlflow.source.git.commit": git_commit() or "", "data_dvc_md5": dvc_digest(f"{params.data.path}.dvc")
               or "", "train_run_id": train.get("mlflow_run_id", "")}
    registered = register(params, paths.train.model, evaluation, chain, test[0].path,
                          train_run_id=train.get("mlflow_run_id"), lineage=lineage)
    reloaded = verify_registered(registered.model_uri, [line.path for line in test], test.texts(), chain,
                                 batch_size=params.evaluate.batch_size)
    expected = {"cer": evaluation["test"]["adapted"]["cer"],
                "cer_postprocessed": (evaluation["test"]["adapted_postprocessed"] or {}).get("cer")}
    report = {
        "name": registered.name, "version": int(registered.version), "alias": CANDIDATE,
        "model_uri": registered.model_uri, "run_id": registered.run_id,
        "reloaded_test_cer": reloaded["cer"], "reloaded_test_cer_postprocessed": reloaded["cer_postprocessed"],
        "matches_evaluate": all(v is None or abs(reloaded[k] - v) <= CER_TOLERANCE for k, v in expected.items()),
    }
    write_json(paths.register_.version, report | {"tags": registered.tags})
    # the committed metrics leave out what differs between machines (version numbers, run ids)
    metrics = {k: report[k] for k in ("alias", "reloaded_test_cer", "reloaded_test_cer_postprocessed",
                                      "matches_evaluate")}
    write_json(paths.register_.metrics, metrics)
    write_headline(paths.register_.headline, metrics, {"reloaded_test_cer": "reloaded_test_cer"})
    if not report["matches_evaluate"]:
        raise PipelineError(f"the registered model reads the test split with CER {reloaded} but the evaluate "
                            f"stage reported {expected}: the packaged model differs from the evaluated one")
    return report


def summary(report: dict) -> list[str]:
    return [f"{report['name']} version {report['version']} is '{report['alias']}' ({report['model_uri']}); "
            f"reloaded test CER {report['reloaded_test_cer']:.4f}"]
