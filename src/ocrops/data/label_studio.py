"""Label Studio's task format, both ways: a line to review becomes a task (its crop as the image, its box as a
polygon, a text area pre-filled with the model's reading: Label Studio's OCR template); a finished task becomes a
transcribed line, with who reviewed it (hashed) and which model read it first."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

# Label Studio's OCR template, one line per task: the crop, the line's polygon, its transcription per region
LABEL_CONFIG = """<View>
  <Image name="image" value="$image" zoom="true"/>
  <Polygon name="line" toName="image" strokeWidth="2"/>
  <TextArea name="transcription" toName="image" editable="true" perRegion="true" required="true"
            maxSubmissions="1" rows="2" placeholder="the line exactly as printed"/>
</View>"""
POLYGON, TEXT = "line", "transcription"


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def line_task(key: str, png: bytes, size: tuple[int, int], box: list[list[float]], text: str, confidence: float,
              model_version: str, meta: dict | None = None) -> dict:
    """A task for one line: ``box`` in the crop's pixels; Label Studio keeps regions in percent of the image."""
    width, height = size
    points = [[100 * x / width, 100 * y / height] for x, y in box]
    region = {"id": "line", "from_name": POLYGON, "to_name": "image", "type": "polygon",
              "original_width": width, "original_height": height, "value": {"points": points}}
    reading = region | {"from_name": TEXT, "type": "textarea", "value": {"points": points, "text": [text]}}
    return {"data": {"image": data_uri(png), "ocrops_key": key, "model_version": model_version, **(meta or {})},
            "predictions": [{"model_version": model_version, "score": confidence, "result": [region, reading]}]}


def annotator_id(completed_by: object) -> str:
    """Who reviewed, as a digest: the dataset records that one person made a set of corrections, not who."""
    return hashlib.sha256(f"label-studio:{completed_by}".encode()).hexdigest()[:12]


@dataclass
class Reviewed:
    """A finished task as a transcribed line (``problem`` says why it cannot be one)."""

    task_id: object
    image: str = ""  # as the task holds it: a data URI, or a URL of the Label Studio server
    text: str = ""
    extra: dict = field(default_factory=dict)
    problem: str | None = None


def reviewed_lines(tasks: list[dict]) -> Iterator[Reviewed]:
    """Label Studio's JSON export -> one Reviewed per task: its latest annotation that was not cancelled, its
    transcription; tasks without one are reported, not dropped."""
    for task in tasks:
        task_id = task.get("id")
        data = task.get("data") or {}
        done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if not isinstance(data.get("image"), str):
            yield Reviewed(task_id, problem="the task has no 'image' in its data")
            continue
        if not done:
            yield Reviewed(task_id, data["image"], problem="no finished annotation (not reviewed yet, or skipped)")
            continue
        annotation = max(done, key=lambda a: (a.get("updated_at") or "", a.get("id") or 0))
        texts = [" ".join(t.split()) for r in annotation.get("result") or [] if r.get("from_name") == TEXT
                 for t in (r.get("value") or {}).get("text") or [] if isinstance(t, str)]
        if len(texts) != 1:
            yield Reviewed(task_id, data["image"], problem=f"expected one transcription, found {len(texts)}")
            continue
        extra = {"source": "review", "model_version": data.get("model_version", ""),
                 "annotator": annotator_id(annotation.get("completed_by")),
                 "reviewed_at": annotation.get("updated_at") or annotation.get("created_at") or "",
                 "review_task": str(task_id)}
        if data.get("ocrops_key"):
            extra["capture"] = data["ocrops_key"]
        yield Reviewed(task_id, data["image"], texts[0], extra)


def decode_data_uri(uri: str) -> bytes | None:
    """The bytes of a ``data:...;base64,`` URI, None for anything else."""
    head, _, body = uri.partition(",")
    if not head.startswith("data:") or not head.endswith(";base64"):
        return None
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
