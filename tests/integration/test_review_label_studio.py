"""The review loop against a real Label Studio (started on 127.0.0.1 with its own sqlite): captured lines pushed
as pre-annotated tasks, corrected through Label Studio's API as an annotator's page would, pulled back as dataset
rows with their provenance, what the validate stage would reject quarantined, nothing added twice; the export
file imported offline gives the same rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from label_studio import available, label_studio, submit
from PIL import Image

from conftest import line_image
from ocrops.data.captures import CaptureStore
from ocrops.data.contract import read_labels
from ocrops.data.label_studio import annotator_id

pytestmark = [pytest.mark.integration, pytest.mark.skipif(available() is not None, reason=str(available()))]
PROJECT = Path(__file__).resolve().parents[2]
# (what the line shows, what the model read): the reviewer types the first
LINES = [("Troponin I 0.02 ng/mL", "Tropomin I 0.02 ng/mL"), ("Ferritin 250 ug/L", "Ferritin 25O ug/L"),
         ("Lipase 48 U/L", "Lipase 4B U/L"), ("Amylase 70 U/L", "Amylase 70 U/L"),
         ("Procalcitonin 0.1", "Procalcitonin O.1"), ("D-dimer 0.3 mg/L", "D-dimer 0.3 mg/L")]


def ocrops(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([str(Path(sys.executable).parent / "ocrops"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
                                                       "HOME": str(cwd)} | env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    with label_studio(tmp_path_factory.mktemp("label-studio")) as running:
        yield running


def captured(root: Path) -> CaptureStore:
    store = CaptureStore(str(root))
    for k, (shown, read) in enumerate(LINES):
        crop = line_image(shown, size=(300, 40))
        store.write(crop, {"request_id": f"req{k}", "line": 1, "text": read, "raw_text": read, "confidence": 0.8,
                           "box": [[0, 0], [300, 0], [300, 40], [0, 40]],
                           "model": {"name": "ocrops", "version": "4", "alias": "champion"}}, now=1.8e9 + k)
    return store


def test_captured_lines_go_to_label_studio_and_come_back_as_rows(studio, tmp_path):
    store = captured(tmp_path / "captures")
    env = {"LABEL_STUDIO_URL": studio.url, "LABEL_STUDIO_API_KEY": studio.token}
    pushed = ocrops("review", "push", "--captures", str(tmp_path / "captures"), "--project", "hospital review",
                    cwd=PROJECT, env=env)
    assert f"{len(LINES)} lines pushed" in pushed.stdout
    again = ocrops("review", "push", "--captures", str(tmp_path / "captures"), "--project", "hospital review",
                   cwd=PROJECT, env=env)
    assert "0 lines pushed" in again.stdout and f"{len(LINES)} were there already" in again.stdout

    api = httpx.Client(base_url=studio.url, headers={"Authorization": f"Token {studio.token}"}, timeout=30)
    [project] = [p for p in api.get("/api/projects").json()["results"] if p["title"] == "hospital review"]
    tasks = api.get(f"/api/projects/{project['id']}/export", params={"exportType": "JSON",
                                                                     "download_all_tasks": "true"}).json()
    ids = store.ids()
    for task in tasks:  # pre-annotated with the model's reading and version, its crop embedded
        k = ids.index(task["data"]["ocrops_key"])
        [prediction] = api.get(f"/api/tasks/{task['id']}").json()["predictions"]
        assert prediction["model_version"] == "ocrops/4"
        assert [r["value"]["text"] for r in prediction["result"] if r["type"] == "textarea"] == [[LINES[k][1]]]
        assert task["data"]["image"].startswith("data:image/png;base64,")

    # the reviewer: corrects four, leaves one as read, skips one, and submits one empty by mistake
    answers = {ids[k]: shown for k, (shown, _) in enumerate(LINES)}
    answers[ids[4]] = None  # skipped
    answers[ids[5]] = "  "  # empty: the validate stage would reject it
    submit(studio, project["id"], answers)

    out = tmp_path / "reviewed"
    pulled = ocrops("review", "pull", "--project", "hospital review", "--out", str(out), cwd=PROJECT, env=env)
    figures = json.loads(pulled.stdout.strip().splitlines()[-1])
    assert figures["added"] == 4 and figures["quarantined"] == 1 and figures["not_reviewed"] == 1, figures
    rows, bad = read_labels(out)
    assert not bad and sorted(r.text for r in rows) == sorted(shown for shown, _ in LINES[:4])
    # rows in their images' order, whatever order the lines were captured in: one dataset for one set of lines
    assert [r.image for r in rows] == sorted(r.image for r in rows)
    for row in rows:
        assert row.extra["source"] == "review" and row.extra["model_version"] == "ocrops/4"
        assert row.extra["annotator"] == annotator_id(1) and row.extra["annotator"] != "1"
        assert row.extra["capture"] in ids and row.split in ("train", "val", "test")
        k = ids.index(row.extra["capture"])
        assert Image.open(out / row.image).size == (300, 40) and row.text == LINES[k][0]
    quarantine = [json.loads(x) for x in (out / "review_quarantine.jsonl").read_text().splitlines()]
    assert [q["reason"] for q in quarantine] == ["label_empty"]

    # appended to a dataset: added once, whatever the number of pulls
    dataset = tmp_path / "data"
    dataset.mkdir()
    (dataset / "labels.jsonl").write_text('{"image": "images/a.png", "text": "kept as it was"}', encoding="utf-8")
    params = tmp_path / "params.yaml"
    params.write_text((PROJECT / "params.yaml").read_text(encoding="utf-8").replace("  path: data ",
                                                                                     f"  path: {dataset} "),
                      encoding="utf-8")
    for added in (4, 0):
        appended = ocrops("review", "pull", "--project", "hospital review", "--append", "--params", str(params),
                          cwd=PROJECT, env=env)
        assert json.loads(appended.stdout.strip().splitlines()[-2])["added"] == added
    lines = (dataset / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{"image": "images/a.png", "text": "kept as it was"}' and len(lines) == 5

    # Label Studio's export downloaded from its page, imported offline: the same rows (before validation)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(api.get(f"/api/projects/{project['id']}/export",
                                         params={"exportType": "JSON"}).json()), encoding="utf-8")
    ocrops("data", "import", str(export), "-f", "label-studio", "--out", str(tmp_path / "offline"), cwd=PROJECT,
           env={})
    offline, _ = read_labels(tmp_path / "offline")
    assert sorted(r.text for r in offline if r.text.strip()) == sorted(r.text for r in rows)
    assert {r.image for r in offline if r.text.strip()} == {r.image for r in rows}
