"""`ocrops gpu-check` on a machine without a GPU: every check skipped with its reason; a failing check is
reported as failed and the others still run; the time budget stops further checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ocrops.cli import app
from ocrops.experiments import gpu_check

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU: run make gpu-check")


def test_without_a_gpu_every_check_is_skipped_with_its_reason(tmp_path: Path):
    result = CliRunner().invoke(app, ["gpu-check", "--report", str(tmp_path / "gpu-check.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "gpu-check.json").read_text(encoding="utf-8"))
    assert report["gpu"] is None and report["summary"] == "no GPU: every check skipped with its reason"
    assert set(report["checks"]) == set(gpu_check.CHECKS)
    for name, check in report["checks"].items():
        assert check["status"] == "skipped" and check["reason"], name
    assert "CUDAExecutionProvider" in report["checks"]["ort_cuda_parity"]["reason"]
    assert "tensorrt" in report["checks"]["tensorrt"]["reason"]
    assert "no CUDA GPU" in report["checks"]["bf16_lora_step"]["reason"]
    assert "no CUDA GPU" in report["checks"]["ppocr_train_cuda"]["reason"]


def test_a_failing_check_is_reported_and_the_others_still_run(monkeypatch):
    def broken(work: Path) -> dict:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(gpu_check, "CHECKS", {"broken": broken, "fine": lambda work: {"lines": 3}})
    report = gpu_check.run()
    assert report["checks"]["broken"]["status"] == "failed"
    assert "illegal memory access" in report["checks"]["broken"]["error"]
    assert report["checks"]["fine"] == {"status": "passed", "lines": 3, "seconds": report["checks"]["fine"]["seconds"]}
    assert (report["passed"], report["failed"], report["skipped"]) == (1, 1, 0)


def test_no_check_starts_once_the_budget_is_spent(monkeypatch):
    monkeypatch.setattr(gpu_check, "CHECKS", {"a": lambda work: {}, "b": lambda work: {}})
    report = gpu_check.run(budget_s=-1)
    assert [c["status"] for c in report["checks"].values()] == ["skipped", "skipped"]
    assert "budget was spent" in report["checks"]["a"]["reason"]


def test_rendered_lines_need_no_system_fonts():
    images = gpu_check.line_images(3)
    assert len(images) == 3 and all(image.mode == "RGB" and image.width > 100 for image in images)


def test_the_cuda_training_check_trains_on_the_cpu_here(tmp_path: Path):
    """What ppocr_train_cuda runs on a GPU, run on the CPU: the trainer's device path and the falling loss."""
    figures = gpu_check.ppocr_train_steps(tmp_path, "cpu", epochs=2)
    assert figures["device"] == "cpu" and len(figures["train_loss"]) == 2
    assert figures["fit_loss_after"] < figures["fit_loss_before"]


def test_training_on_cuda_without_a_gpu_is_a_5002():
    from ocrops.errors import ErrorCode, OcropsError
    from ocrops.training.trainer import training_device

    assert training_device("auto").type == "cpu"
    with pytest.raises(OcropsError) as caught:
        training_device("cuda")
    assert caught.value.code == ErrorCode.UNAVAILABLE and "no CUDA GPU" in caught.value.message
