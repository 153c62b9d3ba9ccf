"""Label Studio's task format both ways, without a server: a line as a task, an export as rows (and what is not
a reviewed line, listed with its reason)."""

from __future__ import annotations

import io

from PIL import Image

from ocrops.data.contract import read_labels
from ocrops.data.importers import import_label_studio
from ocrops.data.label_studio import annotator_id, data_uri, decode_data_uri, line_task, reviewed_lines


def png(size=(60, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, format="PNG")
    return buf.getvalue()


def finished(task: dict, text: str, by: int = 7, cancelled: bool = False, when: str = "2026-12-07T10:00:00Z") -> dict:
    result = [dict(r) for r in task["predictions"][0]["result"]]
    result[1] = result[1] | {"value": result[1]["value"] | {"text": [text]}}
    return task | {"id": 11, "annotations": [{"id": 1, "result": result, "completed_by": by,
                                              "was_cancelled": cancelled, "updated_at": when}]}


def test_a_line_task_holds_its_crop_polygon_and_reading():
    task = line_task("2026-12-07/1-r-1", png((60, 20)), (60, 20), [[0, 0], [60, 0], [60, 20], [0, 20]], "Tropomin",
                     0.71, "ocrops/4")
    assert decode_data_uri(task["data"]["image"]) == png((60, 20))
    [prediction] = task["predictions"]
    assert prediction["model_version"] == "ocrops/4" and prediction["score"] == 0.71
    polygon, text = prediction["result"]
    assert polygon["value"]["points"] == [[0, 0], [100, 0], [100, 100], [0, 100]]  # percent of the crop
    assert text["value"]["text"] == ["Tropomin"] and text["id"] == polygon["id"]  # the text belongs to the region


def test_export_rows_keep_provenance_and_list_what_is_not_a_reviewed_line(tmp_path):
    task = line_task("k1", png(), (60, 20), [[0, 0], [60, 0], [60, 20], [0, 20]], "Tropomin", 0.7, "ocrops/4")
    tasks = [finished(task, "  Troponin   I "),
             finished(task, "Troponin", cancelled=True) | {"id": 12},
             task | {"id": 13, "annotations": []},
             finished(task, "x") | {"id": 14, "data": task["data"] | {"image": "/data/upload/1/a.png"}},
             {"id": 15, "data": {}, "annotations": []}]
    result = import_label_studio(tasks, tmp_path / "out")
    rows, bad = read_labels(tmp_path / "out")
    assert not bad and [r.text for r in rows] == ["Troponin I"]  # whitespace as validation counts it
    row = rows[0]
    assert row.extra == {"source": "review", "model_version": "ocrops/4", "annotator": annotator_id(7),
                         "reviewed_at": "2026-12-07T10:00:00Z", "review_task": "11", "capture": "k1"}
    assert (tmp_path / "out" / row.image).read_bytes() == png()
    reasons = {r["source"]: r["reason"] for r in result.rejected}
    assert set(reasons) == {"task 12", "task 13", "task 14", "task 15"}
    assert "not embedded" in reasons["task 14"] and "no finished annotation" in reasons["task 12"]

    fetched = import_label_studio(tasks[3:4], tmp_path / "fetched", fetch=lambda url: png((61, 20)))
    assert fetched.imported == 1  # a server's image, fetched by `review pull`


def test_the_latest_submission_wins():
    task = line_task("k", png(), (60, 20), [[0, 0], [60, 0], [60, 20], [0, 20]], "a", 0.5, "m/1")
    early, late = finished(task, "first"), finished(task, "second", when="2026-12-08T00:00:00Z")
    both = early | {"annotations": early["annotations"] + [late["annotations"][0] | {"id": 2}]}
    [line] = list(reviewed_lines([both]))
    assert line.text == "second"
    assert decode_data_uri("data:text/plain,hello") is None and decode_data_uri(data_uri(b"x")) == b"x"
