"""The reliability suite's figures: each test records its section, the session merges them into one JSON
report (test-artifacts/reliability.json; `make reliability` copies the long run's to reports/).

``OCROPS_RELIABILITY=long`` runs the long variants (more fuzz inputs, a several-minute soak, the interrupted
`dvc repro`); the default is the fast part that `make test` runs in CI.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("OCROPS_TEST_ARTIFACTS", PROJECT / "test-artifacts"))
SECTIONS = ARTIFACTS / "reliability"
REPORT = ARTIFACTS / "reliability.json"
LONG = os.environ.get("OCROPS_RELIABILITY", "fast") == "long"
# what every section may count; the report sums them
TOTALS = ("inputs_tried", "faults_injected", "lost_records", "corrupted_records")


def pick(fast, long):
    """The fast part's figure, or the long run's."""
    return long if LONG else fast


def without_paths(value):
    """Absolute paths (this machine's temporary folders) shortened to their last part: the report is committed."""
    if isinstance(value, str):
        return re.sub(r"(?:/[^/\s'\"():]+)+/([^/\s'\"():]+)", r".../\1", value)
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    return value


def record(section: str, **figures) -> dict:
    """Add ``figures`` to ``section`` (sections of a test module may be recorded by several tests)."""
    figures = without_paths(figures)
    SECTIONS.mkdir(parents=True, exist_ok=True)
    path = SECTIONS / f"{section}.json"
    merged = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    merged.update(figures)
    path.write_text(json.dumps(merged, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return merged


def clear() -> None:
    if SECTIONS.exists():
        for part in SECTIONS.glob("*.json"):
            part.unlink()


def merge() -> dict | None:
    """All recorded sections -> one report with totals; None when nothing was recorded."""
    parts = sorted(SECTIONS.glob("*.json")) if SECTIONS.exists() else []
    if not parts:
        REPORT.unlink(missing_ok=True)  # a report of an earlier run would pass for this one's
        return None
    sections = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in parts}
    totals = {key: sum(int(s.get(key, 0) or 0) for s in sections.values()) for key in TOTALS}
    report = {"mode": "long" if LONG else "fast", "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "totals": totals, "sections": sections}
    REPORT.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return report
