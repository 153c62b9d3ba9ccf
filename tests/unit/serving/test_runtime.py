"""Engine choice, out-of-memory splitting, fault injection and the glm-ocr serving budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ocrops.errors import ErrorCode, OcropsError
from ocrops.inference.faults import FaultyReader, wrap_reader
from ocrops.inference.runtime import choose_reader, is_out_of_memory, split_on_oom
from ocrops.models.glm_ocr.serving import RepetitionGuard, budget_batches


class FakeEngine:
    """Stands in for a GPU engine that runs out of memory above ``limit`` lines (no GPU here)."""

    name = "fake"

    def __init__(self, limit: int) -> None:
        self.limit, self.calls = limit, []

    def __call__(self, items: list) -> list:
        self.calls.append(len(items))
        if len(items) > self.limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [i * 10 for i in items]


def test_an_oom_batch_is_split_until_it_fits_and_keeps_the_order():
    engine = FakeEngine(limit=2)
    assert split_on_oom(engine, list(range(7))) == [i * 10 for i in range(7)]
    assert engine.calls[0] == 7 and max(c for c in engine.calls if c <= 2) == 2


def test_a_single_line_that_does_not_fit_is_a_5003():
    with pytest.raises(OcropsError) as caught:
        split_on_oom(FakeEngine(limit=0), [1, 2])
    assert caught.value.code == ErrorCode.OUT_OF_MEMORY


def test_other_errors_are_not_retried():
    def broken(items):
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError):
        split_on_oom(broken, [1, 2, 3])


@pytest.mark.parametrize(("exc", "oom"), [
    (MemoryError(), True), (RuntimeError("CUDA out of memory"), True),
    (RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory"), True),
    (RuntimeError("shape"), False)])
def test_out_of_memory_is_recognised_across_engines(exc, oom):
    assert is_out_of_memory(exc) is oom


def _engines_dir(root, files: dict[str, str]):
    engines = root / "engines"
    engines.mkdir(parents=True)
    (engines / "export.json").write_text(json.dumps({"files": files}))
    return engines


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from ocrops.models import pretrained

    return pretrained("ppocr-v4").save(tmp_path_factory.mktemp("model") / "model")


def test_engine_choice_falls_back_to_onnx_runtime_cpu_and_says_why(tmp_path, model_dir):
    """On this CPU machine: TensorRT and ORT CUDA are skipped with their reasons, ORT CPU is chosen."""
    import onnx
    from onnx import TensorProto, helper

    engines = _engines_dir(tmp_path, {"onnx_fp32": "model.onnx", "ort_fp32": "model.onnx"})
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["probs"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), engines / "model.onnx")
    choice = choose_reader("ppocr", model_dir, engines)
    assert choice.name == "ort_fp32"
    assert "tensorrt" in choice.skipped and "ort_cuda" in choice.skipped
    assert "CUDAExecutionProvider" in choice.skipped["ort_cuda"]
    x = np.ones((2, 3), np.float32)
    assert np.array_equal(choice.reader.engine.infer(x), x)


def test_asking_for_an_engine_that_is_missing_is_a_5002(tmp_path, model_dir):
    engines = _engines_dir(tmp_path, {})
    with pytest.raises(OcropsError) as caught:
        choose_reader("ppocr", model_dir, engines, "ort_fp32")
    assert caught.value.code == ErrorCode.UNAVAILABLE and "ort_fp32" in str(caught.value)


def test_without_exported_engines_the_torch_model_serves(tmp_path, model_dir):
    choice = choose_reader("ppocr", model_dir, _engines_dir(tmp_path, {}))
    assert choice.name == "torch" and set(choice.skipped) == {"tensorrt", "ort_cuda", "ort_fp32"}


class _Reader:
    def predict(self, images, batch_size=16):
        return [f"read {im}" for im in images]


def test_fault_injection_only_when_asked(monkeypatch):
    reader = _Reader()
    monkeypatch.delenv("OCROPS_INJECT_FAULT", raising=False)
    assert wrap_reader(reader) is reader
    monkeypatch.setenv("OCROPS_INJECT_FAULT", "oom_above:1")
    faulty = wrap_reader(reader)
    assert faulty.predict(["a"]) == ["read a"]
    with pytest.raises(MemoryError):
        faulty.predict(["a", "b"])
    with pytest.raises(ValueError):
        FaultyReader(reader, "explode")


def test_budget_batches_respect_the_token_budget():
    costs = [100, 900, 50, 400, 3000]
    groups = budget_batches(costs, budget=1200, max_new_tokens=100)
    assert sorted(i for g in groups for i in g) == list(range(5))
    for group in groups:
        total = sum(costs[i] + 100 for i in group)
        assert total <= 1200 or len(group) == 1  # an item over budget runs alone
    assert [4] in groups


def test_repetition_guard_stops_only_looping_sequences():
    guard = RepetitionGuard(prompt_length=2, max_ngram=3, repeats=4)
    looping = [0, 0] + [7, 8] * 4
    varied = [0, 0] + [1, 2, 3, 4, 5, 6, 7, 8]
    done = guard(torch.tensor([looping, varied]), torch.zeros(2, 10))
    assert done.tolist() == [True, False]


def test_glm_ocr_serving_reader_runs_the_tiny_model_within_its_caps(tmp_path):
    """Code path on the tiny random-weight GLM-OCR (not accuracy): every image answered, in order, with at
    most max_new_tokens new tokens, batches split by the token budget."""
    from conftest import PROJECT, line_image
    from ocrops.models.glm_ocr.model import GlmOcrModel, GlmOcrSettings
    from ocrops.models.glm_ocr.serving import GlmOcrServingReader, image_tokens
    from ocrops.models.glm_ocr.tiny import build_tiny_glm_ocr

    corpus = (PROJECT / "recipes" / "general_corpus.txt").read_text(encoding="utf-8").splitlines()[:200]
    model = GlmOcrModel.from_checkpoint(build_tiny_glm_ocr(tmp_path / "tiny", corpus),
                                        GlmOcrSettings(device="cpu", lora=False))
    images = [line_image(t, size=(w, 32)) for t, w in (("a 1", 96), ("bb 22", 160), ("ccc 333", 224))]
    budget = image_tokens(model.prepare(images)[0]) + 4 + 1  # room for one image at a time
    calls: list[tuple[int, int]] = []
    generate = model.model.generate

    def spy(**kwargs):  # records (lines in the call, new tokens) of every generate call
        out = generate(**kwargs)
        calls.append((out.sequences.shape[0], out.sequences.shape[1] - kwargs["input_ids"].shape[1]))
        return out

    model.model.generate = spy
    predictions = GlmOcrServingReader(model, max_new_tokens=4, token_budget=budget).predict(images, batch_size=8)
    assert len(predictions) == 3 and all(isinstance(p.text, str) for p in predictions)
    assert [lines for lines, _ in calls] == [1, 1, 1]  # the budget holds one image per call
    assert all(new <= 4 for _, new in calls)
    calls.clear()
    GlmOcrServingReader(model, max_new_tokens=4, token_budget=10**6).predict(images, batch_size=8)
    assert [lines for lines, _ in calls] == [3]
