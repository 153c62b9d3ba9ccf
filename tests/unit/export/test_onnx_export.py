"""ONNX export, offline optimisation and int8 of the ppocr recognizer, read through ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import line_image
from ocrops.errors import OcropsError
from ocrops.export.onnx import export_onnx, optimize, quantize_int8
from ocrops.export.parity import compare
from ocrops.models.base import OCRModel, pretrained
from ocrops.serving.engines import LineReader, OrtEngine, TorchEngine

TEXTS = ["Creatinine 88 umol/L", "WBC 6.5", "Glucose 5.4 mmol/L fasting", "HbA1c 6.1 %", "Na 140"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = pretrained("ppocr")
    model_dir = model.save(tmp_path_factory.mktemp("model") / "model")
    out = tmp_path_factory.mktemp("export")
    onnx = export_onnx(model, model_dir, out)
    return model, out, onnx


@pytest.fixture(scope="module")
def images():
    return [line_image(t, size=(60 + 12 * len(t), 40)) for t in TEXTS]


def test_export_writes_the_graph_and_what_serving_needs(exported):
    _, out, onnx = exported
    assert onnx == out / "model.onnx" and onnx.stat().st_size > 1e6
    assert {p.name for p in out.iterdir()} >= {"model.onnx", "family.txt", "charset.txt", "config.json"}


def test_optimised_onnx_reads_exactly_as_the_torch_model(exported, images, tmp_path):
    model, out, onnx = exported
    fast = optimize(onnx, tmp_path / "model.opt.onnx", "extended")
    reader = LineReader.from_model_dir(OrtEngine(fast), out)
    expected = model.predict(images, batch_size=2)
    got = reader.predict(images, batch_size=2)  # batches mix widths: padding and dynamic axes are exercised
    assert [p.text for p in got] == [p.text for p in expected]
    assert all(abs(a.confidence - b.confidence) < 1e-4 for a, b in zip(got, expected, strict=True))
    parity = compare("ort_fp32", expected, got, TEXTS, [str(i) for i in range(len(TEXTS))])
    assert parity.identical_share == 1.0 and parity.cer_diff_points == 0.0 and parity.worst == []


def test_torch_engine_is_the_model(exported, images):
    model, out, _ = exported
    reader = LineReader.from_model_dir(TorchEngine(model.module), out)
    assert [p.text for p in reader.predict(images)] == [p.text for p in model.predict(images)]


def test_int8_model_is_smaller_and_still_reads(exported, images, tmp_path):
    model, out, onnx = exported
    int8 = quantize_int8(onnx, tmp_path / "model.int8.onnx", ["MatMul"])
    import onnx as onnx_lib

    ops = {node.op_type for node in onnx_lib.load(str(int8)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # weights int8, activations quantised at run time
    assert int8.stat().st_size < 0.8 * onnx.stat().st_size
    got = LineReader.from_model_dir(OrtEngine(int8), out).predict(images)
    expected = model.predict(images)
    parity = compare("ort_int8", expected, got, TEXTS, [str(i) for i in range(len(TEXTS))])
    assert parity.cer_engine <= parity.cer_reference + 0.1


class _NoExport(OCRModel):
    """A family that implements no ONNX export (as glm-ocr today)."""

    family = "no-export"
    module = None

    def predict(self, images, batch_size=16):
        return []

    def loss(self, images, texts):
        raise NotImplementedError

    def save(self, path):
        return Path(path)


def test_a_family_without_export_says_so_and_stops(tmp_path):
    with pytest.raises(OcropsError, match="family no-export has no whole-model ONNX export") as err:
        export_onnx(_NoExport(), tmp_path, tmp_path / "out")
    assert err.value.code == 5002
    assert not (tmp_path / "out").exists()
