import random
from pathlib import Path

import pytest

from conftest import PROJECT
from ocrops.data.contract import read_labels, read_lexicon
from ocrops.data.split import sha256_bytes, split_for_hash
from ocrops.data.synth import LineWriter, load_recipe, synthesize

RECIPE = PROJECT / "recipes" / "hospital.yaml"


@pytest.fixture(scope="module")
def recipe():
    return load_recipe(RECIPE)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(recipe, tmp_path: Path):
    small = recipe.model_copy(update={"count": 40})
    synthesize(small, tmp_path / "a", progress=False)
    synthesize(small, tmp_path / "b", progress=False)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    synthesize(small.model_copy(update={"seed": small.seed + 1}), tmp_path / "c", progress=False)
    assert _files(tmp_path / "a")["labels.jsonl"] != _files(tmp_path / "c")["labels.jsonl"]


def test_dataset_follows_the_contract(recipe, tmp_path: Path):
    summary = synthesize(recipe.model_copy(update={"count": 60}), tmp_path, progress=False)
    rows, bad = read_labels(tmp_path)
    assert bad == [] and len(rows) == 60 == summary.count
    assert all((tmp_path / r.image).is_file() and r.text.strip() and r.split for r in rows)
    assert len(summary.fonts) == 3  # every face is used
    assert read_lexicon(tmp_path) == recipe.terms.lexicon()


def test_recipe_covers_the_domain(recipe):
    lexicon = recipe.terms.lexicon()
    assert len(lexicon) >= 150
    assert len(recipe.fonts.faces) >= 3
    rng = random.Random(0)
    texts = "".join(LineWriter(recipe.terms, rng).write(t.text) for t in recipe.templates for _ in range(40))
    for symbol in ["μmol/L", "℃", "×", "±", "≤", "⁹", "²"]:
        assert symbol in texts, symbol
    assert any(c in texts for c in "①②③")
    assert any("\u4e00" <= c <= "\u9fff" for c in texts) and any(c.isascii() and c.isalpha() for c in texts)


def test_unknown_slot_is_named(recipe):
    with pytest.raises(KeyError, match="patient_id"):
        LineWriter(recipe.terms, random.Random(0)).write("ID {patient_id}")


def test_lab_slots_share_one_test_per_line(recipe):
    writer = LineWriter(recipe.terms, random.Random(3))
    for _ in range(50):
        line = writer.write("{lab_name}|{lab_unit}")
        name, unit = line.split("|")
        lab = next(lab for lab in recipe.terms.labs if lab.name == name)
        assert unit == lab.unit


def test_general_recipe_splits_by_source_sentence(tmp_path: Path):
    general = load_recipe(PROJECT / "recipes" / "general.yaml").model_copy(update={"count": 120})
    synthesize(general, tmp_path, progress=False)
    rows, _ = read_labels(tmp_path)
    split_of = {s: split_for_hash(sha256_bytes(s.encode("utf-8")), general.split) for s in general.corpus}
    for row in rows:  # every line is cut from a sentence of its own split
        assert any(row.text in s and split_of[s] == row.split for s in general.corpus), row
    assert {r.split for r in rows} == {"train", "test"}
    assert not (tmp_path / "lexicon.txt").exists()


def test_recipe_needs_one_text_source(recipe):
    with pytest.raises(ValueError, match="either terms"):
        type(recipe).model_validate(recipe.model_dump() | {"corpus": ["x"]})
