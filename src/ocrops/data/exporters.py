"""Exporters: the ocrops contract into formats other trainers read."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ocrops.data.contract import read_labels

PROMPT = "Text Recognition:"


def export_sharegpt(dataset: str | Path, out_file: str | Path, split: str | None = None) -> int:
    """Write ShareGPT JSON as GLM-OCR fine-tuning recipes expect; returns the record count.

    Image paths are written relative to the output file, so the pair can move together.
    """
    dataset, out_file = Path(dataset), Path(out_file)
    rows, _ = read_labels(dataset)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    records = [
        {
            "messages": [
                {"role": "user", "content": f"<image>{PROMPT}"},
                {"role": "assistant", "content": row.text},
            ],
            "images": [os.path.relpath(dataset / row.image, out_file.parent)],
            **({"split": row.split} if row.split else {}),
        }
        for row in rows
        if split is None or row.split == split
    ]
    out_file.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return len(records)
