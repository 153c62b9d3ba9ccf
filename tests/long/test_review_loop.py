"""The loop back from production, end to end (``make long``, after ``make run``), on a copy of the project: the
sample model served by its Bento with capture on; 150 lines of a sub-domain it never saw (prescriptions of herbs
with rare characters, tests/data/tcm_prescriptions.yaml) sent; the doubted lines captured, pushed to a real Label
Studio, corrected through its API as a reviewer would, pulled into ``data/``; ``dvc add data``, ``dvc repro``;
the new version reads the held-out reviewed lines with at most half the served version's CER, and passes the
promotion gate (the guard holds). Figures to test-artifacts/review_loop.json."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from label_studio import available, label_studio, submit

PROJECT = Path(__file__).resolve().parents[2]
RECIPE = PROJECT / "tests" / "data" / "tcm_prescriptions.yaml"
REPORT = PROJECT / "test-artifacts" / "review_loop.json"
BIN = Path(sys.executable).parent
# what `make` exports for every tool it drives: nothing leaves the machine
QUIET = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "BENTOML_DO_NOT_TRACK": "true",
         "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1", "NO_ALBUMENTATIONS_UPDATE": "1",
         "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
         "OMP_WAIT_POLICY": "PASSIVE"}
pytestmark = [pytest.mark.skipif(not os.environ.get("OCROPS_LONG"),
                                 reason="make long: needs the pipeline's registered model and Bento (make run)"),
              pytest.mark.skipif(available() is not None, reason=str(available()))]
LEFT_BEHIND = (".venv", ".venv-label-studio", "test-artifacts", ".pytest_cache", "site", "captures", "reviewed")


def copy_project(src: Path, dst: Path) -> None:
    """The project as `make run` left it (code, data, DVC cache, outputs, MLflow store, Bento store), movable: the
    MLflow store records absolute artifact locations, rewritten to the copy's so nothing is written back."""
    shutil.copytree(src, dst, symlinks=True, ignore=lambda d, names: [n for n in names if Path(d) == src
                                                                      and n in LEFT_BEHIND])
    old, new = str(src), str(dst)
    with sqlite3.connect(dst / "mlruns" / "mlflow.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for column in db.execute(f"SELECT name, type FROM pragma_table_info('{table}')").fetchall():
                if column[1].upper().startswith(("VARCHAR", "TEXT")):
                    db.execute(f'UPDATE "{table}" SET "{column[0]}" = replace("{column[0]}", ?, ?) '
                               f'WHERE "{column[0]}" LIKE ?', (old, new, f"%{old}%"))
    for meta in (dst / "mlruns").rglob("*"):
        if meta.is_file() and meta.name in ("MLmodel", "meta.yaml") and old in meta.read_text(errors="ignore"):
            meta.write_text(meta.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def run(*args: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{args}: {done.stdout[-4000:]}{done.stderr[-4000:]}"
    return done


@pytest.mark.timeout(7200)  # a dvc repro that retrains: about 45 minutes on 2 cores
def test_doubted_lines_reviewed_in_label_studio_make_the_next_version_read_them(tmp_path: Path):
    from mlflow.tracking import MlflowClient

    from ocrops.client import OCRClient
    from ocrops.data.captures import CaptureStore
    from ocrops.data.contract import read_labels
    from ocrops.evaluation.records import figures_on
    from ocrops.harness.server import bento_server

    if not (PROJECT / "outputs" / "package" / "bento.json").exists():
        pytest.fail("no pipeline run here: `make run` first (make long does)")
    work = tmp_path / "project"
    copy_project(PROJECT, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "OCROPS_"))}
    env |= QUIET | {"PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"}
    served = json.loads((work / "outputs" / "register" / "version.json").read_text(encoding="utf-8"))["version"]
    bento = json.loads((work / "outputs" / "package" / "bento.json").read_text(encoding="utf-8"))["bento"]
    # the version in production is the champion the new one must beat
    run("ocrops", "promote", str(served), cwd=work, env=env)

    sent = tmp_path / "sent"
    run("ocrops", "synth", "lines", str(RECIPE), "--out", str(sent), cwd=work, env=env)
    rows, _ = read_labels(sent)
    store = tmp_path / "captures"
    serving = env | {"BENTOML_HOME": str(work / ".bentoml"), "OCROPS_SERVE_CAPTURE__ENABLED": "true",
                     "OCROPS_SERVE_CAPTURE__URL": str(store), "OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}
    with bento_server(bento, env=serving, cwd_log=tmp_path / "bento.log", timeout_s=300) as url:
        answers = list(OCRClient(url, retries=0).ocr_many([sent / r.image for r in rows], concurrency=2))
        assert not [a for a in answers if not hasattr(a, "lines")], "a line was refused"
        assert all(len(a.lines) == 1 for a in answers), "a line image answered as several lines"
        doubted = {a.request_id: row.text for a, row in zip(answers, rows, strict=True) if a.lines[0].needs_review}
        misread = sum(a.lines[0].text != row.text for a, row in zip(answers, rows, strict=True))
        deadline = time.monotonic() + 60
        while len(CaptureStore(str(store)).ids()) < len(doubted) and time.monotonic() < deadline:
            time.sleep(0.5)
        metrics = httpx.get(f"{url}/metrics").text
    captured = {line.name: line.record["request_id"] for line in CaptureStore(str(store))}
    assert sorted(captured.values()) == sorted(doubted), "captured lines are not the doubted ones"
    assert f'ocrops_captured_lines_total{{outcome="stored"}} {float(len(doubted))}' in metrics

    with label_studio(tmp_path / "label-studio") as studio:
        studio_env = env | {"LABEL_STUDIO_URL": studio.url, "LABEL_STUDIO_API_KEY": studio.token}
        pushed = run("ocrops", "review", "push", "--captures", str(store), cwd=work, env=studio_env)
        assert f"{len(doubted)} lines pushed" in pushed.stdout, pushed.stdout
        [project] = httpx.get(f"{studio.url}/api/projects",
                              headers={"Authorization": f"Token {studio.token}"}).json()["results"]
        corrected = submit(studio, project["id"], {name: doubted[request] for name, request in captured.items()})
        pulled = run("ocrops", "review", "pull", "--append", cwd=work, env=studio_env)
    added = json.loads(next(x for x in pulled.stdout.splitlines() if x.startswith("{")))
    assert added["added"] == len(doubted) and added["quarantined"] == 0, added

    run("dvc", "add", "data", cwd=work, env=env)
    run("dvc", "repro", cwd=work, env=env, timeout=5400)
    new = json.loads((work / "outputs" / "register" / "version.json").read_text(encoding="utf-8"))["version"]
    assert new != served
    # the served version read on the new test split (it holds the reviewed lines): both on one test set
    evaluated = run("ocrops", "evaluate", str(served), cwd=work, env=env)
    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")
    name = json.loads((work / "outputs" / "register" / "version.json").read_text(encoding="utf-8"))["name"]
    tags = client.get_model_version(name, str(new)).tags
    before = figures_on(client.get_model_version(name, str(served)).tags, tags["test_set_digest"])
    after = figures_on(tags, tags["test_set_digest"])
    promoted = subprocess.run(["ocrops", "promote", str(new)], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
    report = {"sent": len(rows), "misread_by_served": misread, "doubted_and_captured": len(doubted),
              "corrected_by_reviewer": corrected, "pulled": added, "served_version": served, "new_version": new,
              "reviewed_test_lines": after.reviewed_lines, "reviewed_cer_served": before.reviewed_cer,
              "reviewed_cer_new": after.reviewed_cer, "base_reviewed_cer": float(tags["base_reviewed_cer"]),
              "test_cer_served": before.cer, "test_cer_new": after.cer,
              "guard_cer_served": float(client.get_model_version(name, str(served)).tags["guard_cer"]),
              "guard_cer_new": float(tags["guard_cer"]), "base_guard_cer": float(tags["base_guard_cer"]),
              "gate": promoted.stdout.strip().splitlines()[-3:] + promoted.stderr.strip().splitlines()[-5:],
              "evaluate_served": evaluated.stdout.strip().splitlines()[0]}
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    assert before.reviewed_lines == after.reviewed_lines > 0
    assert before.reviewed_cer > 0, "the served version read every held-out reviewed line right: nothing to show"
    assert after.reviewed_cer <= 0.5 * before.reviewed_cer, report
    assert promoted.returncode == 0, report  # the gate: no worse on the test split, the guard held

