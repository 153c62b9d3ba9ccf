"""Push the lines the service captured to Label Studio; pull the corrections back as dataset rows, quarantining
what the validate stage would reject, into a new dataset or appended to ``data.path``."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ocrops.config import Params
from ocrops.data.captures import CaptureStore
from ocrops.data.contract import LABELS_FILE, read_labels
from ocrops.data.files import write_jsonl
from ocrops.data.importers import REJECTS_FILE, import_label_studio
from ocrops.data.label_studio import LABEL_CONFIG, line_task
from ocrops.data.validation import Vocabulary, validate_dataset
from ocrops.review.labelstudio import LabelStudio

QUARANTINE_FILE = "review_quarantine.jsonl"


@dataclass
class Pushed:
    project: int
    added: int
    already: int


def push_captures(store_url: str, studio: LabelStudio, title: str, limit: int | None = None) -> Pushed:
    """Every captured line not yet in the project ``title`` becomes a task: its crop, the whole crop as the
    line's polygon, the model's (masked) reading to correct, the model version as the prediction's (and, for a
    line of ``ocrops review push --images``, the file and page it was read on)."""
    project = studio.project(title, LABEL_CONFIG)
    there = {t["data"].get("ocrops_key") for t in studio.tasks(project)}
    tasks, already = [], 0
    for captured in CaptureStore(store_url):
        if captured.name in there:
            already += 1
            continue
        record = captured.record
        with Image.open(io.BytesIO(captured.image)) as crop:
            size = crop.size
        w, h = size
        model = record.get("model") or {}
        version = f"{model.get('name', '?')}/{model.get('version', '?')}"
        tasks.append(line_task(captured.name, captured.image, size, [[0, 0], [w, 0], [w, h], [0, h]],
                               record.get("text", ""), float(record.get("confidence", 0.0)), version,
                               {"request_id": record.get("request_id", ""),
                                "captured_at": record.get("captured_at", ""),
                                **{k: record[k] for k in ("file", "page") if k in record}}))
        if limit is not None and len(tasks) >= limit:
            break
    return Pushed(project, studio.import_tasks(project, tasks), already)


@dataclass
class Pulled:
    out: Path
    accepted: int = 0
    quarantined: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # tasks that are not a reviewed line (not finished, ...)
    already: int = 0  # lines the dataset held before
    splits: dict[str, int] = field(default_factory=dict)


def pull_reviews(studio: LabelStudio, title: str, out: Path, params: Params, vocabulary: Vocabulary,
                 append: bool = False) -> Pulled:
    """The project's finished tasks as rows: validated as the validate stage would (what it would reject goes to
    ``review_quarantine.jsonl`` beside the rows, with its reason), then written to ``out`` (a new dataset) or
    added to it (``append``: ``out`` is ``data.path``; lines it already holds are not added twice)."""
    project = studio.project(title, LABEL_CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "reviewed"
        imported = import_label_studio(studio.tasks(project), staged, params.data.split, fetch=studio.fetch)
        result = Pulled(out, rejected=imported.rejected)
        if not imported.imported:
            return result
        report = validate_dataset(staged, params, vocabulary, progress=False)
        result.quarantined = report.quarantine
        accepted_lines = {rec.line for rec in report.accepted}
        rows = [row for row in read_labels(staged)[0] if row.line in accepted_lines]
        if out.exists() and any(out.iterdir()) and not append:
            raise FileExistsError(f"{out} is not empty: pull into a new folder, or --append to the dataset")
        out.mkdir(parents=True, exist_ok=True)
        held, _ = read_labels(out) if (out / LABELS_FILE).exists() else ([], [])
        known = {row.image for row in held}
        # in the order of their images' content hashes, not of the tasks: the tasks are in the order the lines were
        # captured, which concurrent requests decide, and the training reads rows in the file's order
        new = sorted((row for row in rows if row.image not in known), key=lambda row: row.image)
        result.already = len(rows) - len(new)
        for row in new:
            (out / row.image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(staged / row.image, out / row.image)
        # appended line by line: the rows already there stay byte for byte as they were
        labels = out / LABELS_FILE
        gap = labels.exists() and labels.stat().st_size and not labels.read_bytes().endswith(b"\n")
        with labels.open("a", encoding="utf-8") as fh:
            fh.write("\n" if gap else "")
            for row in new:
                fh.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
        write_jsonl(out / QUARANTINE_FILE, report.quarantine)
        if imported.rejected:
            write_jsonl(out / REJECTS_FILE, imported.rejected)
        result.accepted = len(new)
        for row in new:
            result.splits[row.split] = result.splits.get(row.split, 0) + 1
    return result


def summary(pulled: Pulled) -> str:
    return json.dumps({"out": str(pulled.out), "added": pulled.accepted, "already_held": pulled.already,
                       "quarantined": len(pulled.quarantined), "not_reviewed": len(pulled.rejected),
                       "splits": pulled.splits}, ensure_ascii=False)
