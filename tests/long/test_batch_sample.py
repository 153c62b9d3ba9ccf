"""`ocrops batch` with the pipeline's registered model (``make long``, after ``make run``): the sample's test split
(its line images and its pages) read on Spark local[2] and by the package stage's Bento under `bentoml serve`
with two clients; every answer compared; throughput of both to test-artifacts/batch.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import batch_frame, served_differences

PROJECT = Path(__file__).resolve().parents[2]
REPORT = PROJECT / "test-artifacts" / "batch.json"
pytestmark = pytest.mark.skipif(not os.environ.get("OCROPS_LONG"),
                                reason="make long: needs the pipeline's registered model and Bento (make run)")


def test_spark_reads_the_sample_test_split_as_the_bento_serves_it(tmp_path: Path):
    from ocrops.client import OCRClient
    from ocrops.config import load_params
    from ocrops.harness.server import bento_server

    params = load_params(PROJECT / "params.yaml")
    paths = params.paths
    archive = tmp_path / "test-split"
    # the validate stage's rows carry their file's path from the project
    for kind, manifest in (("lines", paths.validate_.accepted), ("pages", paths.validate_.pages)):
        (archive / kind).mkdir(parents=True)
        for row in map(json.loads, (PROJECT / manifest).read_text(encoding="utf-8").splitlines()):
            if row["split"] == "test":
                image = PROJECT / row["path"]
                shutil.copy2(image, archive / kind / image.name)
    files = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.is_file())
    package = json.loads((PROJECT / paths.package.bento).read_text(encoding="utf-8"))
    model = f"{params.mlflow.registered_model}/{package['mlflow']['version']}"

    out, summary = tmp_path / "ocr.parquet", tmp_path / "summary.json"
    result = subprocess.run([str(Path(sys.executable).parent / "ocrops"), "batch", str(archive), str(out), "--model",
                             model, "--summary", str(summary)], cwd=PROJECT, capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    spark = json.loads(summary.read_text(encoding="utf-8"))
    frame = batch_frame(out, "test-split")

    env = {"BENTOML_HOME": str(PROJECT / ".bentoml"), "OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}
    with bento_server(package["bento"], env=env, timeout_s=300) as url:
        started = time.perf_counter()
        answers = list(OCRClient(url, retries=0).ocr_many([archive / f for f in files], concurrency=2))
        served_s = time.perf_counter() - started
    differ = served_differences(frame, dict(zip(files, answers, strict=True)))
    pages = int((frame["mode"] == "page").sum())
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({
        "model": spark["model"], "images": len(files), "lines": len(files) - pages, "pages": pages,
        "answers_equal_bentoml_serve": len(files) - len(differ), "differ": differ[:10],
        "spark_local2": {k: spark[k] for k in ("read", "read_seconds", "images_per_s", "seconds")},
        "bento_2_clients": {"seconds": round(served_s, 2), "images_per_s": round(len(files) / served_s, 2)},
        "spark_vs_bento": round(spark["images_per_s"] / (len(files) / served_s), 3),
    }, indent=2) + "\n", encoding="utf-8")
    assert len(frame) == len(files) and frame["path"].is_unique and frame["error_code"].isna().all()
    assert not differ, differ[:5]
