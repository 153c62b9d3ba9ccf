"""Batch invariance: a line reads the same, text and confidence, whatever else is in its batch and however large
the batch is, through every engine of the default family (torch, ONNX Runtime fp32 and int8)."""

from __future__ import annotations

import json
import random

import pytest

from conftest import PROJECT
from ocrops.config import DEFAULT_BASE, load_params
from ocrops.data.contract import read_labels
from ocrops.data.synth import load_recipe, synthesize
from ocrops.families import for_base
from ocrops.models import pretrained

ENGINES = ("torch", "ort_fp32", "ort_int8")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("invariance")
    synthesize(load_recipe(PROJECT / "recipes" / "hospital.yaml").model_copy(update={"count": 48, "seed": 11}),
               root / "lines", progress=False)
    rows, _ = read_labels(root / "lines")
    from PIL import Image

    images = [Image.open(root / "lines" / r.image).convert("RGB") for r in rows]
    model = pretrained(DEFAULT_BASE)
    model_dir = model.save(root / "model")
    family = for_base(DEFAULT_BASE).code()
    settings = load_params(PROJECT / "params.yaml").export
    exported = family.export(model, model_dir, root / "engines", images[:1], settings)
    (root / "engines" / "export.json").write_text(json.dumps({"files": exported.files}))
    readers = {name: family.reader(model_dir, root / "engines", name) for name in ENGINES}
    return images, readers


@pytest.mark.parametrize("engine", ENGINES)
def test_a_line_reads_the_same_in_any_batch(setup, engine):
    images, readers = setup
    reader = readers[engine]
    alone = reader.predict(images, batch_size=1)
    assert len({im.width for im in images}) > 10  # many widths: batches mix lines of different lengths
    for trial in range(6):
        rng = random.Random(trial)
        order = list(range(len(images)))
        rng.shuffle(order)
        size = rng.choice([2, 3, 8, 16, 32])
        got = dict(zip(order, reader.predict([images[i] for i in order], batch_size=size), strict=True))
        assert [got[i].text for i in range(len(images))] == [p.text for p in alone], (engine, size)
        if engine == "torch":  # its matrix kernels may add in another order for another batch size
            assert max(abs(got[i].confidence - alone[i].confidence) for i in range(len(images))) < 1e-5
        else:
            assert [got[i].confidence for i in range(len(images))] == [p.confidence for p in alone], (engine, size)


def test_engines_agree_with_the_model(setup):
    """The exported fp32 engine reads every line as the torch model does (the served = evaluated promise)."""
    images, readers = setup
    torch_texts = [p.text for p in readers["torch"].predict(images, batch_size=8)]
    assert [p.text for p in readers["ort_fp32"].predict(images, batch_size=8)] == torch_texts
