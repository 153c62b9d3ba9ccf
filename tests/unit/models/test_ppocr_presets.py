"""PP-OCRv5 and PP-OCRv6 as ppocr presets: the PyTorch ports read as the released ONNX graphs do, v6's
re-parameterisable branches train unfused and fold exactly, a saved v6 model rebuilds itself and exports."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from conftest import PROJECT
from ocrops.data.contract import read_labels
from ocrops.data.synth import load_recipe, synthesize
from ocrops.inference.wheel_files import WheelFile, WheelFileError
from ocrops.models.ppocr.charset import load_charset
from ocrops.models.ppocr.ctc import greedy_decode
from ocrops.models.ppocr.model import PPOCRModel, pretrained_network, pretrained_ppocr
from ocrops.models.ppocr.network_v6 import RepDWConv
from ocrops.models.ppocr.preprocess import batch_arrays
from ocrops.models.ppocr.presets import PRESETS, preset

NEW = ("ppocr-v5", "ppocr-v6")


@pytest.fixture(scope="module", params=NEW)
def released(request):
    name = request.param
    session = ort.InferenceSession(str(preset(name).recognizer.locate()), providers=["CPUExecutionProvider"])
    return name, pretrained_network(name), session


@pytest.fixture(scope="module")
def sample_lines(tmp_path_factory) -> list[Image.Image]:
    root = tmp_path_factory.mktemp("lines")
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(update={"count": 24})
    synthesize(recipe, root, progress=False)
    rows, _ = read_labels(root)
    return [Image.open(root / r.image).convert("RGB") for r in rows]


def _probs(network, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return network(torch.from_numpy(x)).softmax(-1).numpy()


@pytest.mark.parametrize("width", [16, 96, 320, 808])
def test_random_inputs_match_onnxruntime(released, width):
    _, network, session = released
    x = np.random.default_rng(width).uniform(-1, 1, (2, 3, 48, width)).astype(np.float32)
    reference = session.run(None, {"x": x})[0]
    ours = _probs(network, x)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= 1e-4


def test_sample_lines_decode_as_the_released_graph(released, sample_lines):
    name, network, session = released
    charset = load_charset(name)
    assert network.head.out_features == len(charset) + 1
    x = batch_arrays(sample_lines)
    reference = [t for t, _ in greedy_decode(session.run(None, {"x": x})[0], charset)]
    assert [t for t, _ in greedy_decode(_probs(network, x), charset)] == reference
    assert sum(len(t) for t in reference) > 5 * len(reference)  # it reads text, not nothing


def test_every_preset_names_its_files_and_they_match_their_digests():
    assert set(PRESETS) == {"ppocr-v4", "ppocr-v5", "ppocr-v6"}
    for found in PRESETS.values():
        for file in (found.recognizer, found.detector, found.dictionary):
            if file is not None:
                assert file.locate().exists()  # locate() checks the SHA-256


def test_a_file_with_another_digest_is_refused():
    changed = dataclasses.replace(preset("ppocr-v6").detector, sha256="0" * 64)
    with pytest.raises(WheelFileError, match="SHA-256"):
        changed.locate()
    with pytest.raises(WheelFileError, match="pip install no-such-wheel"):
        WheelFile("no-such-wheel", "1.0", "x.onnx", "0" * 64).locate()


def test_v6_branches_fold_exactly_and_decompose_back():
    torch.manual_seed(0)
    rep = RepDWConv(8).eval()
    for bn in (rep.conv_bn, rep.bn):  # branches as training leaves them: nothing is the identity
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    rep.conv1.weight.data.normal_()
    x = torch.randn(2, 8, 6, 20)
    with torch.no_grad():
        assert torch.allclose(rep.fused()(x), rep(x), atol=1e-5)
        weight, bias = rep.folded()
        again = RepDWConv(8).eval()
        again.load_folded(weight, bias)
        assert torch.allclose(again(x), rep(x), atol=1e-5)


def test_v6_trains_through_every_layer_and_exports_folded(tmp_path, sample_lines):
    from ocrops.models.ppocr.export import export_onnx

    model = pretrained_ppocr("ppocr-v6")
    model.train_mode()
    loss = model.loss(sample_lines[:4], ["Hemoglobin 13.5", "Creatinine", "ALT 35 U/L", "Na 140"])
    loss.backward()
    untouched = [name for name, p in model.network.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not untouched, untouched
    assert any(isinstance(m, RepDWConv) for m in model.network.modules())  # trained unfused
    with torch.no_grad():  # a step moves the branches: the folded graph must follow them
        for p in model.network.parameters():
            p -= 1e-3 * p.grad.sign()
    model.eval_mode()
    model.save(tmp_path / "model")
    assert json.loads((tmp_path / "model" / "config.json").read_text())["preset"] == "ppocr-v6"
    loaded = PPOCRModel.load(tmp_path / "model")
    path = export_onnx(loaded, tmp_path / "rec.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    convs = [sum(n.op_type == "Conv" for n in onnx.load(str(p)).graph.node)
             for p in (path, preset("ppocr-v6").recognizer.locate())]
    assert convs[0] == convs[1]  # folded: one conv where the released graph has one
    x = batch_arrays(sample_lines[:3])
    assert np.abs(session.run(None, {"x": x})[0] - _probs(model.network.eval(), x)).max() <= 1e-4
    assert not any(isinstance(m, RepDWConv) for m in loaded.network.fused().modules())
