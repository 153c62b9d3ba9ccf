"""The deployed form, for real (``make long``, after ``make run`` and ``make container``): the package stage's
Bento image run with podman, read through with ``ocrops predict``, held to ``bentoml serve`` of the same Bento
and to the registered CER; size and times to test-artifacts/container.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
REPORT = PROJECT / "test-artifacts" / "container.json"
pytestmark = pytest.mark.skipif(not os.environ.get("OCROPS_LONG"),
                                reason="make long: needs the pipeline's Bento and its image (make run, make container)")


def test_the_image_serves_what_bentoml_serve_serves_as_a_non_root_user():
    result = subprocess.run([str(Path(sys.executable).parent / "ocrops"), "container", "check", "--report",
                             str(REPORT)], cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(REPORT.read_text(encoding="utf-8"))
    assert report["uid"] != 0 and report["user"] == "bentoml"
    assert report["answers_equal_bentoml_serve"] == report["lines"] > 0
    assert report["same_test_set"] and report["cer_matches_registered"], report
    assert report["metrics_answer"]
    assert not report["torch_in_image"]
    assert report["image_bytes"] <= 1.5e9, f"the serving image is {report['image_bytes'] / 1e9:.2f} GB"
