"""ONNX export, offline optimisation and int8 of the ppocr recognizer, read through ONNX Runtime."""

from __future__ import annotations

import pytest

from conftest import line_image
from ocrops.evaluation.parity import compare
from ocrops.export.onnx import optimize, quantize_int8
from ocrops.families import Family
from ocrops.inference.engines import OrtEngine, TorchEngine
from ocrops.inference.lines import LineReader
from ocrops.models import pretrained
from ocrops.models.interface import ModelFamily, NotExportable
from ocrops.models.ppocr.codec import CTCCodec
from ocrops.models.ppocr.export import export_onnx

TEXTS = ["Creatinine 88 umol/L", "WBC 6.5", "Glucose 5.4 mmol/L fasting", "HbA1c 6.1 %", "Na 140"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = pretrained("ppocr-v4")
    out = tmp_path_factory.mktemp("export")
    onnx = export_onnx(model, out / "model.onnx")
    return model, onnx


@pytest.fixture(scope="module")
def images():
    return [line_image(t, size=(60 + 12 * len(t), 40)) for t in TEXTS]


def test_export_writes_one_graph_with_dynamic_batch_and_width(exported):
    import onnx as onnx_lib

    _, onnx = exported
    assert onnx.stat().st_size > 1e6
    graph = onnx_lib.load(str(onnx), load_external_data=False).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, 48, "width"]


def test_optimised_onnx_reads_exactly_as_the_torch_model(exported, images, tmp_path):
    model, onnx = exported
    fast = optimize(onnx, tmp_path / "model.opt.onnx", "extended")
    reader = LineReader(OrtEngine(fast), CTCCodec(model.charset))
    expected = model.predict(images, batch_size=2)
    got = reader.predict(images, batch_size=2)  # batches mix widths: padding and dynamic axes are exercised
    assert [p.text for p in got] == [p.text for p in expected]
    assert all(abs(a.confidence - b.confidence) < 1e-4 for a, b in zip(got, expected, strict=True))
    parity = compare("ort_fp32", expected, got, TEXTS, [str(i) for i in range(len(TEXTS))])
    assert parity.identical_share == 1.0 and parity.cer_diff_points == 0.0 and parity.worst == []


def test_torch_engine_is_the_model(exported, images):
    model, _ = exported
    reader = LineReader(TorchEngine(model.module), CTCCodec(model.charset))
    assert [p.text for p in reader.predict(images)] == [p.text for p in model.predict(images)]


def test_int8_model_is_smaller_and_still_reads(exported, images, tmp_path):
    model, onnx = exported
    int8 = quantize_int8(onnx, tmp_path / "model.int8.onnx", ["MatMul"])
    import onnx as onnx_lib

    ops = {node.op_type for node in onnx_lib.load(str(int8)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # weights int8, activations quantised at run time
    assert int8.stat().st_size < 0.8 * onnx.stat().st_size
    got = LineReader(OrtEngine(int8), CTCCodec(model.charset)).predict(images)
    expected = model.predict(images)
    parity = compare("ort_int8", expected, got, TEXTS, [str(i) for i in range(len(TEXTS))])
    assert parity.cer_engine <= parity.cer_reference + 0.1


class _NoExport(ModelFamily):
    """A family that implements no exporter: the base class says so."""

    def pretrained(self, base, settings=None):
        raise NotImplementedError

    def load(self, path):
        raise NotImplementedError


def test_a_family_without_an_exporter_says_why(tmp_path):
    family = _NoExport(Family(name="no-export", implementation="tests:_NoExport"))
    with pytest.raises(NotExportable, match="the no-export family has no ONNX export"):
        family.export(None, tmp_path, tmp_path / "out", [], None)
    assert not (tmp_path / "out").exists()
