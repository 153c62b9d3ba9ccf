"""JSON and JSON Lines files as every stage writes them: UTF-8, one trailing newline, parents created; a stage's
headline figures (what `dvc metrics show` lists)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_jsonl(path: str | Path, missing_ok: bool = False) -> list[dict]:
    """The records of a JSON Lines file (blank lines skipped); a missing file is an error unless ``missing_ok``
    (then it has none)."""
    path = Path(path)
    if missing_ok and not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: str | Path, records: Iterable[dict]) -> Path:
    """One record per line, non-ASCII kept as is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records), encoding="utf-8")
    return path


def write_json(path: str | Path, data: Any, indent: int = 2) -> Path:
    """A report or plot file: indented, non-ASCII kept as is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")
    return path


def write_headline(path: str | Path, report: dict, picks: dict[str, str]) -> dict:
    """The few figures of ``report`` that `dvc metrics show` / `dvc metrics diff` list, flat, by headline name
    (``picks``: name -> dotted key in the report); one the report lacks (a skipped part) is left out. The report
    itself stays whole beside it."""
    figures = {}
    for name, key in picks.items():
        value: object = report
        for part in key.split("."):  # a report in memory may key by number (batch sizes), its JSON by text
            if not isinstance(value, dict):
                value = None
                break
            value = value.get(part, value.get(int(part)) if part.isdigit() else None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            figures[name] = value
    write_json(path, figures)
    return figures
