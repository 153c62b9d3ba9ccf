"""Every validation rule against a deliberately broken fixture."""

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import line_image, params_at, png_with_declared_size, truncated_png, write_dataset
from ocrops.config import DEFAULT_BASE, Params
from ocrops.data.report import write_report
from ocrops.data.validation import Vocabulary, validate_dataset
from ocrops.errors import PipelineError
from ocrops.families import for_base
from ocrops.stages import validate

LENIENT = Params.model_validate({"validate": {"max_rejected_share": 0.9}})
DEFAULT_VOCABULARY = Vocabulary(for_base(DEFAULT_BASE).name, for_base(DEFAULT_BASE).code().vocabulary(DEFAULT_BASE))


def on(params: Params, dataset: Path) -> Params:
    """``params`` with data.path pointing at ``dataset`` (what ``ocrops data validate DATASET`` runs)."""
    return params.model_copy(update={"data": params.data.model_copy(update={"path": str(dataset)})})


def _append(root: Path, records: list[dict | bytes]) -> None:
    with (root / "labels.jsonl").open("ab") as fh:
        for record in records:
            fh.write(record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode())
            fh.write(b"\n")


@pytest.fixture
def broken_dataset(small_dataset: Path) -> Path:
    img = small_dataset / "images"
    (img / "truncated.png").write_bytes(truncated_png())
    (img / "empty.png").write_bytes(b"")
    (img / "bomb.png").write_bytes(png_with_declared_size(40000, 40000))
    Image.new("L", (6000, 6000), 200).save(img / "huge.png")
    Image.new("RGB", (300, 40), (0, 0, 0)).save(img / "black.png")
    Image.new("RGB", (300, 40), (255, 255, 255)).save(img / "blank.png")
    line_image("gif").save(img / "scan.gif", format="GIF")  # a format the service does not take
    line_image("empty label").save(img / "nolabel.png")
    line_image("bad split").save(img / "badsplit.png")
    line_image("control").save(img / "ctrl.png")
    shutil.copy(img / "000.png", img / "copy_of_000.png")
    _append(small_dataset, [
        {"image": "images/truncated.png", "text": "a", "split": "train"},        # line 13
        {"image": "images/empty.png", "text": "b", "split": "train"},            # 14
        {"image": "images/bomb.png", "text": "c", "split": "train"},             # 15
        {"image": "images/huge.png", "text": "d", "split": "train"},             # 16
        {"image": "images/black.png", "text": "e", "split": "train"},            # 17
        {"image": "images/blank.png", "text": "f", "split": "train"},            # 18
        {"image": "images/missing.png", "text": "g", "split": "train"},          # 19
        {"image": "images/scan.gif", "text": "h", "split": "train"},             # 20
        {"image": "images/nolabel.png", "text": "   ", "split": "train"},        # 21
        {"image": "images/badsplit.png", "text": "i", "split": "holdout"},       # 22
        {"image": "images/copy_of_000.png", "text": "dup", "split": "train"},    # 23
        {"image": "../outside.png", "text": "j", "split": "train"},              # 24
        b'{"image": "images/000.png", "text": "\xb0\xa2"}',                      # 25
        b"{not json",                                                            # 26
        {"image": "images/ctrl.png", "text": "bell\u0007 here", "split": "train"},  # 27
    ])
    return small_dataset


EXPECTED = {
    13: "image_unreadable", 14: "image_unreadable", 15: "image_decompression_bomb",
    16: "image_too_large", 17: "brightness_out_of_range", 18: "brightness_out_of_range",
    19: "image_missing", 20: "image_unreadable", 21: "label_empty", 22: "split_invalid",
    23: "duplicate_image", 24: "image_outside_dataset", 25: "label_unreadable", 26: "label_unreadable",
    27: "label_unrepresentable",
}


def test_exactly_the_broken_rows_are_quarantined_with_reasons(broken_dataset: Path):
    report = validate_dataset(broken_dataset, LENIENT, DEFAULT_VOCABULARY, progress=False)
    assert {q["line"]: q["reason"] for q in report.quarantine} == EXPECTED
    assert len(report.accepted) == 12  # nothing valid is lost
    codes = {q["line"]: q["code"] for q in report.quarantine}
    assert codes[15] == codes[16] == 5001 and codes[13] == 4001 and codes[25] == 4002
    assert report.passed
    by_line = {q["line"]: q for q in report.quarantine}
    assert "6000x6000" in by_line[16]["detail"]
    assert "same bytes as line 1" in by_line[23]["detail"]
    assert "TIFF" in by_line[20]["detail"]
    assert "U+0007" in by_line[27]["detail"]


def test_outputs_are_written_and_list_every_rejected_row(broken_dataset: Path, tmp_path: Path):
    report = validate_dataset(broken_dataset, LENIENT, DEFAULT_VOCABULARY, progress=False)
    paths = params_at(tmp_path).paths.validate_
    figures = write_report(report, paths)
    on_disk = json.loads(paths.metrics.read_text(encoding="utf-8"))
    assert on_disk == figures
    assert figures["rows"] == 27 and figures["rejected"] == 15 and figures["accepted"] == 12
    quarantined = [json.loads(x) for x in paths.quarantine.read_text().splitlines()]
    assert sorted(q["line"] for q in quarantined) == sorted(EXPECTED)
    accepted = [json.loads(x) for x in paths.accepted.read_text().splitlines()]
    assert [a["line"] for a in accepted] == list(range(1, 13))
    assert all(Path(a["path"]).is_file() for a in accepted)
    html = paths.report.read_text(encoding="utf-8")
    assert all(reason in html for reason in set(EXPECTED.values()))
    assert "PASSED" in html and "expect_column_values_to_be_in_set" in html


def test_too_many_rejects_fail_the_stage_naming_rows(broken_dataset: Path, tmp_path: Path):
    strict = params_at(tmp_path, validate={"max_rejected_share": 0.05})
    with pytest.raises(PipelineError) as info:
        validate.run(on(strict, broken_dataset))
    message = str(info.value)
    assert "15 of 27 rows rejected" in message and "line 13 (image_unreadable" in message
    assert strict.paths.validate_.quarantine.exists()  # the reports are there to read


def test_leakage_between_splits_fails_even_when_few_rows(small_dataset: Path):
    shutil.copy(small_dataset / "images" / "000.png", small_dataset / "images" / "leak.png")
    _append(small_dataset, [{"image": "images/leak.png", "text": "leak", "split": "test"}])
    report = validate_dataset(small_dataset, LENIENT, DEFAULT_VOCABULARY, progress=False)
    assert not report.passed
    assert any("split_leakage" in f and "line 1 " in f and "line 13 " in f for f in report.failures)


def test_missing_split_is_assigned_by_hash_deterministically(tmp_path: Path):
    root = write_dataset(tmp_path / "d", [(f"{i}.png", f"row {i}", None) for i in range(30)])
    first = validate_dataset(root, LENIENT, DEFAULT_VOCABULARY, progress=False)
    second = validate_dataset(root, LENIENT, DEFAULT_VOCABULARY, progress=False)
    assert [r.split for r in first.accepted] == [r.split for r in second.accepted]
    assert all(r.split_source == "hash" for r in first.records)
    assert set(first.split_sizes) == {"train", "val", "test"}


def test_out_of_vocabulary_is_reported_not_rejected(small_dataset: Path):
    report = validate_dataset(small_dataset, LENIENT, DEFAULT_VOCABULARY, progress=False)
    assert len(report.accepted) == 12 and report.passed
    assert report.oov == {"㎍": 12}  # ㎍ (a CJK compatibility unit) is not in the PP-OCRv6 dictionary
    oov_check = next(c for c in report.checks if c.rule == "out_of_vocabulary")
    assert not oov_check.success and oov_check.severity == "report"


def test_the_family_comes_from_the_base_and_glm_ocr_has_no_closed_vocabulary(small_dataset: Path, tmp_path: Path):
    params = params_at(tmp_path, train={"base": "glm-ocr:/checkpoints/GLM-OCR"})  # never loaded: names the family
    figures = validate.run(on(params, small_dataset))
    assert figures["oov"] == {"family": "glm-ocr", "rows": 0, "distinct_chars": 0, "chars": ""}


def test_empty_split_is_reported(tmp_path: Path):
    root = write_dataset(tmp_path / "d", [(f"{i}.png", f"row {i}", "train") for i in range(5)])
    report = validate_dataset(root, LENIENT, DEFAULT_VOCABULARY, progress=False)
    sizes = next(c for c in report.checks if c.rule == "split_sizes")
    assert not sizes.success and sizes.unexpected == 2


def test_accepted_rows_keep_their_provenance_under_the_measured_facts(small_dataset: Path, tmp_path: Path):
    rows = [json.loads(x) for x in (small_dataset / "labels.jsonl").read_text().splitlines()]
    rows[0] |= {"source": "review", "model_version": "ocrops/4", "annotator": "3f2a9c", "path": "elsewhere.png"}
    (small_dataset / "labels.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    paths = params_at(tmp_path).paths.validate_
    write_report(validate_dataset(small_dataset, LENIENT, DEFAULT_VOCABULARY, progress=False), paths)
    accepted = [json.loads(x) for x in paths.accepted.read_text().splitlines()]
    first = accepted[0]
    assert (first["source"], first["model_version"], first["annotator"]) == ("review", "ocrops/4", "3f2a9c")
    assert first["path"].endswith(rows[0]["image"])  # a label cannot move a measured fact
    assert all("source" not in a for a in accepted[1:])
