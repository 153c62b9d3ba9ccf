"""glm-ocr ONNX on the tiny random-weight config: the KV-cache decoder step decodes token for token as
transformers' generate does, and the fixed-grid vision encoder gives the same image embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import line_image, params_at
from ocrops.models.glm_ocr.export import CacheShape, OnnxGreedyDecoder, export_decoder, export_vision, prompt_inputs
from ocrops.models.glm_ocr.model import GlmOcrModel, GlmOcrSettings
from ocrops.models.glm_ocr.tiny import build_tiny_glm_ocr

TEXTS = ["肌酐(Cr) 88 μmol/L", "WBC 6.5", "Amoxicillin 500mg bid", "体温: 38.5℃"]
NEW_TOKENS = 12


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> GlmOcrModel:
    checkpoint = build_tiny_glm_ocr(tmp_path_factory.mktemp("glm") / "tiny", TEXTS * 20)
    return GlmOcrModel.from_checkpoint(checkpoint, GlmOcrSettings(lora=False, device="cpu",
                                                                  max_new_tokens=NEW_TOKENS))


@pytest.fixture(scope="module")
def decoder(tiny, tmp_path_factory) -> Path:
    return export_decoder(tiny.model, tmp_path_factory.mktemp("onnx") / "decoder.onnx")


@pytest.mark.parametrize("text", TEXTS[:2])
def test_kv_cache_decoder_decodes_as_transformers_generate(tiny, decoder, text):
    model = tiny.model.eval()
    inputs = tiny._inputs([line_image(text, size=(224, 56))], [tiny.prompt], padding_side="left")
    with torch.no_grad():
        expected = model.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False,
                                  eos_token_id=model.generation_config.eos_token_id)
    expected = expected[0, inputs["input_ids"].shape[1]:].tolist()
    table = model.model.get_input_embeddings().weight.detach().float().numpy()
    loop = OnnxGreedyDecoder(decoder, table, CacheShape.of(model), model.generation_config.eos_token_id)
    tokens, probs = loop.generate(prompt_inputs(model, inputs), NEW_TOKENS)
    assert tokens == expected
    assert len(probs) == len(tokens) and all(0 < p <= 1 for p in probs)


def test_decoder_has_kv_cache_inputs_and_outputs(tiny, decoder):
    session = ort.InferenceSession(str(decoder), providers=["CPUExecutionProvider"])
    shape = CacheShape.of(tiny.model)
    assert [i.name for i in session.get_inputs()][3:] == shape.names("past")
    assert [o.name for o in session.get_outputs()][1:] == shape.names("present")


def test_vision_encoder_at_a_fixed_grid_matches_torch(tiny, tmp_path):
    model = tiny.model.eval()
    inputs = tiny._inputs([line_image("WBC 6.5", size=(224, 56))], [tiny.prompt], padding_side="left")
    path = export_vision(model, inputs["pixel_values"], inputs["image_grid_thw"], tmp_path / "vision.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"pixel_values": inputs["pixel_values"].float().numpy()})[0]
    with torch.no_grad():
        want = torch.cat(model.model.get_image_features(inputs["pixel_values"],
                                                        inputs["image_grid_thw"]).pooler_output).numpy()
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-4


def test_onnx_vision_then_onnx_decoder_read_as_generate(tiny, decoder, tmp_path):
    """Both graphs chained: image embeddings from ONNX feed the ONNX decoding loop."""
    model = tiny.model.eval()
    inputs = tiny._inputs([line_image("Amoxicillin 500mg bid", size=(224, 56))], [tiny.prompt],
                          padding_side="left")
    vision = export_vision(model, inputs["pixel_values"], inputs["image_grid_thw"], tmp_path / "vision.onnx")
    embeds = ort.InferenceSession(str(vision), providers=["CPUExecutionProvider"]).run(
        None, {"pixel_values": inputs["pixel_values"].float().numpy()})[0]
    table = model.model.get_input_embeddings().weight.detach().float().numpy()
    loop = OnnxGreedyDecoder(decoder, table, CacheShape.of(model), model.generation_config.eos_token_id)
    tokens, _ = loop.generate(prompt_inputs(model, inputs, torch.from_numpy(embeds)), NEW_TOKENS)
    with torch.no_grad():
        expected = model.generate(**inputs, max_new_tokens=NEW_TOKENS, do_sample=False)
    assert tokens == expected[0, inputs["input_ids"].shape[1]:].tolist()


def test_export_stage_exports_glm_ocr_and_checks_parity(tiny, tmp_path):
    import json

    from ocrops.stages import benchmark, export

    params = params_at(tmp_path, glm_ocr={"export_size": [224, 56]}, benchmark={
        "lines_per_point": 2, "warmup": 0, "rounds": 1, "concurrency": [1], "requests_per_client": 2})
    model_dir = tiny.save(params.paths.train.model)
    rows = []
    for i, text in enumerate(TEXTS):
        path = tmp_path / f"{i}.png"
        line_image(text, size=(200 + 20 * i, 40)).save(path)
        rows.append({"path": str(path), "text": text, "split": "test"})
    accepted = params.paths.validate_.accepted
    accepted.parent.mkdir(parents=True)
    accepted.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    report = export.run(params)
    assert report["family"] == "glm-ocr" and model_dir == params.paths.train.model
    assert report["parity"]["ort_fp32"]["identical_share"] == 1.0 and report["parity"]["ort_fp32"]["lines"] == 4
    assert report["tensorrt"]["status"] == "skipped"
    manifest = json.loads((params.paths.export.engines / "export.json").read_text())
    assert manifest["files"]["ort_decoder"] == "decoder.onnx" and manifest["image_size"] == [224, 56]
    bench = benchmark.run(params)
    assert set(bench["engines"]) == {"torch", "ort_fp32"}
    assert all(e["batch"][1]["lines_per_s"] > 0 and e["concurrency"][1]["errors"] == 0
               for e in bench["engines"].values())
    assert "ort_fp32_vs_torch_b1" in bench["ratios"]
