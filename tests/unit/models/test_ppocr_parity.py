"""The PyTorch port of PP-OCRv4 reads exactly as the released ONNX model under ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image
from rapidfuzz.distance import Levenshtein

from conftest import PROJECT
from ocrops.data.contract import read_labels
from ocrops.data.synth import load_recipe, synthesize
from ocrops.inference.rapidocr import V4_RECOGNIZER
from ocrops.models.ppocr.charset import load_charset
from ocrops.models.ppocr.ctc import greedy_decode
from ocrops.models.ppocr.model import pretrained_network
from ocrops.models.ppocr.preprocess import batch_arrays


@pytest.fixture(scope="module")
def model():
    return pretrained_network("ppocr-v4")


@pytest.fixture(scope="module")
def session():
    return ort.InferenceSession(str(V4_RECOGNIZER.locate()), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def sample_lines(tmp_path_factory) -> list[tuple[Image.Image, str]]:
    """Lines rendered by the sample data's own recipe (fonts, symbols, degradations)."""
    root = tmp_path_factory.mktemp("lines")
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(update={"count": 40})
    synthesize(recipe, root, progress=False)
    rows, _ = read_labels(root)
    return [(Image.open(root / r.image).convert("RGB"), r.text) for r in rows]


def _torch_probs(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).softmax(-1).numpy()


@pytest.mark.parametrize("width", [16, 48, 160, 320, 800])
def test_random_inputs_match_onnxruntime(model, session, width):
    x = np.random.default_rng(width).uniform(-1, 1, (2, 3, 48, width)).astype(np.float32)
    reference = session.run(None, {"x": x})[0]
    ours = _torch_probs(model, x)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= 1e-4


def test_sample_images_match_onnxruntime_one_by_one(model, session, sample_lines):
    worst = 0.0
    for image, _ in sample_lines:
        x = batch_arrays([image])
        worst = max(worst, float(np.abs(_torch_probs(model, x) - session.run(None, {"x": x})[0]).max()))
    assert worst <= 1e-4


def test_batched_sample_images_decode_to_identical_strings(model, session, sample_lines):
    charset = load_charset()
    x = batch_arrays([image for image, _ in sample_lines])
    reference = greedy_decode(session.run(None, {"x": x})[0], charset)
    ours = greedy_decode(_torch_probs(model, x), charset)
    assert [t for t, _ in ours] == [t for t, _ in reference]
    assert np.allclose([c for _, c in ours], [c for _, c in reference], atol=1e-3)
    # and the base model really reads the domain lines, if imperfectly (spaces, full-width punctuation)
    errors = sum(Levenshtein.distance(t, ref) for (t, _), (_, ref) in zip(ours, sample_lines, strict=True))
    assert errors / sum(len(ref) for _, ref in sample_lines) < 0.4


def test_output_classes_match_dictionary(model):
    assert model.head.out_features == len(load_charset()) + 1  # + CTC blank


def test_exported_onnx_matches_torch_at_any_batch_and_width(tmp_path):
    from ocrops.models.ppocr.export import export_onnx
    from ocrops.models.ppocr.model import pretrained_ppocr

    model = pretrained_ppocr()
    model.extend_vocabulary(["⁹"])  # an extended head exports too
    path = export_onnx(model, tmp_path / "rec.onnx")
    assert not model.network.training  # exporting leaves the model in eval mode
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, width in [(1, 64), (3, 320), (2, 808)]:
        x = np.random.default_rng(width).uniform(-1, 1, (batch, 3, 48, width)).astype(np.float32)
        ours = _torch_probs(model.network, x)
        exported = session.run(None, {"x": x})[0]
        assert exported.shape == ours.shape and exported.shape[2] == len(model.charset) + 1
        assert np.abs(exported - ours).max() <= 1e-4
