"""The glm-ocr family on a tiny random-weight GLM-OCR built offline (code paths, not accuracy)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import PROJECT, line_image
from ocrops.config import Params, TrainParams
from ocrops.errors import OcropsError
from ocrops.models import load_base, load_model
from ocrops.models.glm_ocr.model import GlmOcrModel, GlmOcrSettings
from ocrops.models.glm_ocr.tiny import build_tiny_glm_ocr, one_step
from ocrops.training.base import resolve_base

TEXTS = ["肌酐(Cr) 88 μmol/L", "白细胞计数(WBC) 6.5 ×10⁹/L", "Amoxicillin 500mg bid", "体温: 38.5℃"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    corpus = (PROJECT / "recipes" / "general_corpus.txt").read_text(encoding="utf-8").splitlines()
    return build_tiny_glm_ocr(tmp_path_factory.mktemp("glm") / "tiny", corpus * 2 + TEXTS * 5)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [line_image(t, size=(160, 32)) for t in TEXTS]


def _settings(**kw) -> GlmOcrSettings:
    return GlmOcrSettings(max_new_tokens=6, device="cpu", **kw)


def test_one_step_lowers_the_loss_on_a_fixed_batch(checkpoint, images):
    torch.manual_seed(0)
    model = GlmOcrModel.from_checkpoint(checkpoint, _settings(lora=False))
    before, after = one_step(model, images, TEXTS)
    assert after < before
    assert not any(p.requires_grad for n, p in model.module.named_parameters() if ".visual." in f".{n}")


def test_loss_counts_only_answer_tokens(checkpoint, images):
    model = GlmOcrModel.from_checkpoint(checkpoint, _settings())
    with torch.no_grad():
        short, long = model.loss(images[:1], ["A"]), model.loss(images[:1], ["A" * 40])
    assert short.item() != long.item()  # answer length changes the averaged loss; the prompt does not count


def test_lora_trains_only_adapters_and_generate_returns_strings(checkpoint, images):
    model = GlmOcrModel.from_checkpoint(checkpoint, _settings())
    trainable = [n for n, p in model.module.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert not any(".visual." in n for n in trainable)
    predictions = model.predict(images, batch_size=3)
    assert len(predictions) == 4 and all(isinstance(p.text, str) for p in predictions)
    assert all(0.0 <= p.confidence <= 1.0 for p in predictions)


def _logits(module: torch.nn.Module, model: GlmOcrModel, images) -> torch.Tensor:
    inputs = model._inputs(images, [model.prompt + t for t in TEXTS], padding_side="right")
    with torch.no_grad():
        return module(**inputs).logits


def test_merged_lora_equals_unmerged_adapter(checkpoint, images):
    torch.manual_seed(1)
    model = GlmOcrModel.from_checkpoint(checkpoint, _settings())
    with torch.no_grad():  # make the adapter non-trivial (B starts at zero)
        for name, param in model.module.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    model.eval_mode()
    unmerged = _logits(model.module, model, images)
    merged = _logits(model.merged().eval(), model, images)
    assert torch.allclose(unmerged, merged, atol=1e-4)
    base = _logits(GlmOcrModel.from_checkpoint(checkpoint, _settings(), trainable=False).module, model, images)
    assert not torch.allclose(unmerged, base, atol=1e-4)  # the adapter does something


def test_save_then_load_gives_identical_outputs(checkpoint, images, tmp_path):
    model = GlmOcrModel.from_checkpoint(checkpoint, _settings())
    with torch.no_grad():
        for name, param in model.module.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    model.save(tmp_path / "saved")
    loaded = load_model(tmp_path / "saved")
    assert isinstance(loaded, GlmOcrModel)
    ours, theirs = model.predict(images), loaded.predict(images)
    assert [p.text for p in theirs] == [p.text for p in ours]  # merged weights: same strings
    assert [p.confidence for p in theirs] == pytest.approx([p.confidence for p in ours], abs=1e-5)
    fresh = GlmOcrModel.from_checkpoint(checkpoint, _settings())
    fresh.restore(tmp_path / "saved")  # resuming LoRA training restores the adapter
    assert fresh.predict(images) == model.predict(images)


def test_bad_checkpoints_and_devices_are_refused_with_one_sentence(checkpoint, tmp_path):
    with pytest.raises(OcropsError, match="not a GLM-OCR checkpoint"):
        GlmOcrModel.from_checkpoint(tmp_path, _settings())
    with pytest.raises(OcropsError, match="local Hugging Face cache"):
        load_base("glm-ocr:zai-org/GLM-OCR-not-cached")
    if not torch.cuda.is_available():
        with pytest.raises(OcropsError, match="no usable CUDA GPU"):
            GlmOcrModel.from_checkpoint(checkpoint, GlmOcrSettings(device="cuda"))


def test_domain_adapter_fine_tunes_glm_ocr_with_lora(checkpoint, images, tmp_path):
    from ocrops.data.lines import Line, LineDataset
    from ocrops.training.trainer import FineTuner

    paths = []
    for i, image in enumerate(images):
        image.save(tmp_path / f"{i}.png")
        paths.append(Line(str(tmp_path / f"{i}.png"), TEXTS[i]))
    data = LineDataset(paths)
    params = Params.model_validate({"train": {"base": f"glm-ocr:{checkpoint}"}, "glm_ocr": {"max_new_tokens": 4}})
    base = resolve_base(params).load()
    assert base.settings.max_new_tokens == 4  # the family's params section reaches its loader
    adapter = FineTuner(base, data, data, settings=TrainParams(epochs=3, lr=5e-3, batch_size=2, grad_accum=2,
                                                               warmup=0.0, augment=0.0, patience=5),
                        checkpoint_dir=tmp_path / "ckpt", progress=False)
    result = adapter.train()
    assert len(result.history) == 3 and result.history[-1].train_loss < result.history[0].train_loss
    assert (tmp_path / "ckpt" / "last" / "model" / "adapter").is_dir()
