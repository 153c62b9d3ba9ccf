"""FineTuner on a handful of sample-recipe lines: it learns, checkpoints, resumes and refuses bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import PROJECT
from ocrops.config import TrainParams
from ocrops.data.contract import read_labels
from ocrops.data.lines import Line, LineDataset
from ocrops.data.synth import load_recipe, synthesize
from ocrops.errors import OcropsError
from ocrops.models import load_base, load_model, pretrained
from ocrops.training.trainer import FineTuner

FAST = {"lr": 5e-4, "batch_size": 8, "augment": 0.0, "warmup": 0.1}


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> tuple[LineDataset, LineDataset]:
    root = tmp_path_factory.mktemp("adapter")
    recipe = load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(update={"count": 24, "seed": 5})
    synthesize(recipe, root, progress=False)
    rows, _ = read_labels(root)
    data = [Line(str(root / r.image), r.text) for r in rows]
    return LineDataset(data[:16], "train"), LineDataset(data[16:], "val")


class Interrupted(Exception):
    pass


def _weights(adapter: FineTuner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in adapter.model.module.state_dict().items()}


def test_training_lowers_loss_and_extends_vocabulary(lines):
    train, val = lines
    adapter = FineTuner(pretrained("ppocr-v4"), train, train, settings=TrainParams(epochs=3, lr=2e-4, batch_size=4,
                        augment=0.0), progress=False)  # fit the training lines themselves
    before = adapter.evaluate(train).cer
    result = adapter.train()
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.history[-1].val_cer < before
    assert all(ch in adapter.model.charset for ch in result.added_characters)


def test_resume_after_interruption_equals_uninterrupted_run(lines, tmp_path: Path):
    train, val = lines
    settings = TrainParams(epochs=2, patience=5, **FAST)
    straight = FineTuner(pretrained("ppocr-v4"), train, val, settings=settings, checkpoint_dir=tmp_path / "a",
                         progress=False)
    full = straight.train()

    def stop_after_first(log):
        if log.epoch == 0:
            raise Interrupted

    broken = FineTuner(pretrained("ppocr-v4"), train, val, settings=settings, checkpoint_dir=tmp_path / "b",
                       on_epoch=stop_after_first, progress=False)
    with pytest.raises(Interrupted):
        broken.train()
    resumed = FineTuner(pretrained("ppocr-v4"), train, val, settings=settings, checkpoint_dir=tmp_path / "b",
                        progress=False)
    result = resumed.train()

    assert result.resumed_from_epoch == 0
    assert [h.epoch for h in result.history] == [0, 1]
    assert [round(h.train_loss, 5) for h in result.history] == [round(h.train_loss, 5) for h in full.history]
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_saved_model_predicts_the_same(lines, tmp_path: Path):
    train, val = lines
    adapter = FineTuner(pretrained("ppocr-v4"), train, val, settings=TrainParams(epochs=1, **FAST), progress=False)
    adapter.train()
    adapter.save(tmp_path / "m")
    images = [val.image(i) for i in range(len(val))]
    assert load_model(tmp_path / "m").predict(images) == adapter.model.predict(images)


def test_bad_input_is_refused_before_training(lines):
    train, val = lines
    with pytest.raises(OcropsError, match="no rows"):
        FineTuner(pretrained("ppocr-v4"), LineDataset([]), val)
    with pytest.raises(OcropsError, match="U\\+0000"):
        FineTuner(pretrained("ppocr-v4"), LineDataset([Line("x.png", "nul\x00")]), val)
    with pytest.raises(OcropsError, match="neither a preset"):
        load_base("/nonexistent/checkpoint")


def test_preprocessing_travels_with_the_model(lines, tmp_path: Path):
    from ocrops.inference.preprocess import enhance_scan

    train, val = lines
    adapter = FineTuner(pretrained("ppocr-v4"), train, val, settings=TrainParams(enhance_scan=True), progress=False)
    adapter.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.preprocess == "enhance_scan"
    images = [val.image(i) for i in range(3)]
    plain = pretrained("ppocr-v4")
    assert loaded.predict(images) == plain.predict([enhance_scan(im) for im in images])


def test_the_forgetting_regularisers_keep_the_weights_nearer_the_base(lines):
    train, val = lines
    general = LineDataset(list(val), "general")

    def drift(**extra) -> tuple[float, FineTuner]:
        model = pretrained("ppocr-v4")
        start = {k: v.clone() for k, v in model.module.named_parameters()}
        adapter = FineTuner(model, train, val, settings=TrainParams(epochs=1, general_ratio=0.3, **(FAST | extra)),
                            general_data=general, progress=False)
        adapter.train()
        moved = 0.0
        for name, now in adapter.model.module.named_parameters():
            before = start[name]
            moved += float((now[tuple(slice(0, n) for n in before.shape)] - before).pow(2).sum())
        return moved, adapter

    free, _ = drift()
    assert drift(l2sp=1.0, weight_decay=0.0)[0] < free
    assert drift(backbone_lr_scale=0.1)[0] < free
    distilled, adapter = drift(distill=1.0)
    assert distilled != free  # the KL term takes part in the updates
    teacher = dict(adapter.teacher.module.named_parameters())
    base = dict(pretrained("ppocr-v4").module.named_parameters())
    assert all(torch.equal(teacher[k], base[k]) for k in base)  # the teacher stays the frozen base model
