"""TensorRT engine cache keys (everywhere) and the builder (only where tensorrt and CUDA exist)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from ocrops.inference.tensorrt import BuildFacts, Profile, availability, cached_engine

FACTS = BuildFacts(onnx_sha256="ab" * 32, gpu="NVIDIA H100 80GB HBM3", tensorrt="10.13.0", fp16=True,
                   profile=Profile())


def _cache(tmp_path: Path, facts: BuildFacts) -> Path:
    (tmp_path / f"{facts.key()}.engine").write_bytes(b"engine")
    (tmp_path / f"{facts.key()}.json").write_text(json.dumps(asdict(facts)))
    return tmp_path


def test_cache_key_changes_with_gpu_tensorrt_version_onnx_and_profile():
    keys = {FACTS.key(), replace(FACTS, gpu="NVIDIA A10").key(), replace(FACTS, tensorrt="10.14.0").key(),
            replace(FACTS, onnx_sha256="cd" * 32).key(), replace(FACTS, profile=Profile(max_batch=64)).key(),
            replace(FACTS, fp16=False).key()}
    assert len(keys) == 6


def test_an_engine_is_reused_only_for_the_same_build_facts(tmp_path: Path):
    _cache(tmp_path, FACTS)
    assert cached_engine(tmp_path, FACTS) == tmp_path / f"{FACTS.key()}.engine"
    assert cached_engine(tmp_path, replace(FACTS, gpu="NVIDIA A10")) is None


def test_an_engine_whose_recorded_facts_differ_is_not_loaded(tmp_path: Path):
    _cache(tmp_path, FACTS)
    other = replace(FACTS, tensorrt="10.0.0")
    (tmp_path / f"{FACTS.key()}.json").write_text(json.dumps(asdict(other)))  # file renamed or tampered with
    assert cached_engine(tmp_path, FACTS) is None


def test_availability_gives_a_reason_when_tensorrt_cannot_run():
    ok, detail = availability()
    if not ok:
        assert "tensorrt" in detail or "CUDA" in detail
    else:
        assert detail  # the GPU name


def test_builder_builds_and_reuses_an_engine(tmp_path: Path):
    ok, reason = availability()
    if not ok:
        pytest.skip(f"TensorRT builder needs tensorrt and a CUDA GPU: {reason}")
    from ocrops.inference.engines import OrtEngine
    from ocrops.inference.lines import LineReader
    from ocrops.inference.tensorrt import TensorRTEngine, build_engine
    from ocrops.models import pretrained
    from ocrops.models.ppocr.codec import CTCCodec
    from ocrops.models.ppocr.export import export_onnx

    model = pretrained("ppocr-v4")
    onnx = export_onnx(model, tmp_path / "export" / "model.onnx")
    profile = Profile(max_batch=4, opt_batch=2, max_width=640)
    engine, built = build_engine(onnx, tmp_path / "cache", profile=profile)
    assert built and engine.exists()
    again, built_again = build_engine(onnx, tmp_path / "cache", profile=profile)
    assert again == engine and not built_again
    from conftest import line_image

    images = [line_image("Glucose 5.4 mmol/L"), line_image("WBC 6.5")]
    trt = LineReader(TensorRTEngine(engine), CTCCodec(model.charset)).predict(images)
    ort = LineReader(OrtEngine(onnx), CTCCodec(model.charset)).predict(images)
    assert [p.text for p in trt] == [p.text for p in ort]
