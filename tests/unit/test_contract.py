import json
from pathlib import Path

from ocrops.data.contract import LabelRow, read_labels, read_lexicon, write_labels


def test_round_trip_keeps_unicode_and_extra_fields(tmp_path: Path):
    rows = [LabelRow("images/a.png", "阿莫西林 0.25g ±5 μmol/L", "train", extra={"source": "scan-7"}),
            LabelRow("images/b.png", "ℂ ① ² ≤", None)]
    write_labels(tmp_path, rows)
    assert "\\u" not in (tmp_path / "labels.jsonl").read_text(encoding="utf-8")
    back, bad = read_labels(tmp_path)
    assert bad == []
    assert [(r.image, r.text, r.split, r.extra) for r in back] == [
        ("images/a.png", "阿莫西林 0.25g ±5 μmol/L", "train", {"source": "scan-7"}),
        ("images/b.png", "ℂ ① ² ≤", None, {}),
    ]
    assert [r.line for r in back] == [1, 2]


def test_every_unreadable_line_is_reported_with_its_line_number(tmp_path: Path):
    lines = [
        "\ufeff" + json.dumps({"image": "images/ok.png", "text": "ok"}),  # BOM on line 1 is tolerated
        json.dumps({"image": "images/x.png", "text": "x"}).encode("utf-8")[:-2].decode() + "\n",
        json.dumps([1, 2]),
        json.dumps({"text": "no image"}),
        json.dumps({"image": "images/y.png"}),
        json.dumps({"image": "images/z.png", "text": "z", "split": 3}),
    ]
    data = "\n".join(lines).encode("utf-8") + b"\n" + b'{"image": "images/gbk.png", "text": "\xb0\xa2"}\n'
    (tmp_path / "labels.jsonl").write_bytes(data)
    rows, bad = read_labels(tmp_path)
    assert [r.image for r in rows] == ["images/ok.png"]
    assert [(b.line, b.reason) for b in bad] == [
        (2, "label_not_json"), (4, "label_not_object"), (5, "label_missing_image"),
        (6, "label_missing_text"), (7, "label_bad_split"), (8, "label_not_utf8"),
    ]
    assert all(b.code == 4002 for b in bad)
    assert "\\xb0" in bad[-1].raw


def test_lexicon_skips_blanks_and_comments(tmp_path: Path):
    (tmp_path / "lexicon.txt").write_text("# drugs\n阿莫西林\n\n  μmol/L \n", encoding="utf-8")
    assert read_lexicon(tmp_path) == ["阿莫西林", "μmol/L"]
    assert read_lexicon(tmp_path / "missing") == []
