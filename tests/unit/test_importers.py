import json
from pathlib import Path

import pytest

from conftest import line_image
from ocrops.data.contract import read_labels
from ocrops.data.exporters import export_sharegpt
from ocrops.data.importers import REJECTS_FILE, import_pairs, import_sharegpt


def _pairs_folder(root: Path) -> Path:
    root.mkdir()
    line_image("one").save(root / "one.png")
    (root / "one.gt.txt").write_text("肌酐 88 μmol/L\n", encoding="utf-8")
    (root / "sub").mkdir()
    line_image("two").save(root / "sub" / "two.jpg", format="JPEG")
    (root / "sub" / "two.gt.txt").write_text("\ufeffWBC  6.5\t×10⁹/L", encoding="utf-8")
    line_image("three").save(root / "three.tif", format="TIFF")
    (root / "three.gt.txt").write_text("体温 38.5℃", encoding="utf-8")
    line_image("orphan").save(root / "orphan.png")
    (root / "gbk.png").write_bytes((root / "one.png").read_bytes())
    (root / "gbk.gt.txt").write_bytes("阿司匹林".encode("gbk"))
    (root / "lonely.gt.txt").write_text("no image", encoding="utf-8")
    return root


def test_import_pairs_takes_valid_pairs_and_lists_the_rest(tmp_path: Path):
    result = import_pairs(_pairs_folder(tmp_path / "src"), tmp_path / "out")
    rows, bad = read_labels(tmp_path / "out")
    assert bad == []
    assert sorted(r.text for r in rows) == ["WBC 6.5 ×10⁹/L", "体温 38.5℃", "肌酐 88 μmol/L"]
    assert all(r.split in {"train", "val", "test"} for r in rows)
    assert all((tmp_path / "out" / r.image).is_file() for r in rows)
    tif_row = next(r for r in rows if r.text.startswith("体温"))
    assert tif_row.image.endswith(".png")  # TIFF converted to the contract's formats
    reasons = {Path(r["source"]).name: r["reason"] for r in result.rejected}
    assert set(reasons) == {"orphan.png", "gbk.gt.txt", "lonely.gt.txt"}
    assert "try --encoding" in reasons["gbk.gt.txt"]
    listed = [json.loads(x) for x in (tmp_path / "out" / REJECTS_FILE).read_text().splitlines()]
    assert len(listed) == 3


def test_import_pairs_with_declared_encoding(tmp_path: Path):
    src = _pairs_folder(tmp_path / "src")
    for gt in src.rglob("*.gt.txt"):
        if gt.name != "gbk.gt.txt":
            gt.unlink()
    import_pairs(src, tmp_path / "out", encoding="gbk")
    rows, _ = read_labels(tmp_path / "out")
    assert [r.text for r in rows] == ["阿司匹林"]


def test_import_refuses_to_overwrite(tmp_path: Path):
    src = _pairs_folder(tmp_path / "src")
    import_pairs(src, tmp_path / "out")
    with pytest.raises(FileExistsError):
        import_pairs(src, tmp_path / "out")
    import_pairs(src, tmp_path / "out", overwrite=True)


def test_sharegpt_export_then_import_round_trips(small_dataset: Path, tmp_path: Path):
    out = tmp_path / "export" / "train.json"
    assert export_sharegpt(small_dataset, out) == 12
    records = json.loads(out.read_text(encoding="utf-8"))
    assert records[0]["messages"][0] == {"role": "user", "content": "<image>Text Recognition:"}
    assert not Path(records[0]["images"][0]).is_absolute()
    import_sharegpt(out, tmp_path / "back")
    original, _ = read_labels(small_dataset)
    back, _ = read_labels(tmp_path / "back")
    assert [(r.text, r.split) for r in back] == [(r.text, r.split) for r in original]
    assert export_sharegpt(small_dataset, tmp_path / "test.json", split="test") == 2


def test_sharegpt_import_reads_llamafactory_style_and_jsonl_and_lists_bad_records(tmp_path: Path):
    line_image("a").save(tmp_path / "a.png")
    good = {"conversations": [{"from": "human", "value": "<image>Text Recognition:"},
                              {"from": "gpt", "value": "血小板 210"}], "images": ["a.png"]}
    lines = [json.dumps(good, ensure_ascii=False), "{broken",
             json.dumps({"messages": [{"role": "user", "content": "hi"}], "images": ["a.png"]}),
             json.dumps({"messages": good["conversations"], "images": ["missing.png"]}),
             json.dumps({"messages": [{"role": "assistant", "content": "x"}], "images": ["a.png", "a.png"]})]
    src = tmp_path / "data.jsonl"
    src.write_text("\n".join(lines), encoding="utf-8")
    result = import_sharegpt(src, tmp_path / "out")
    rows, _ = read_labels(tmp_path / "out")
    assert [r.text for r in rows] == ["血小板 210"]
    assert [r["reason"].split(":")[0] for r in result.rejected] == [
        "not JSON", "no assistant answer", "image not found", "expected exactly one image, got 2"]
