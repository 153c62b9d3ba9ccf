"""A batch job's rows -> a document per file read, in a format of ``ocrops.formats`` (text, hOCR, ALTO, PAGE-XML, a
searchable PDF): the answer the service gives for the file, rebuilt from its rows (a row per image, a row per page
of a document), written by the driver into a folder that mirrors the archive's."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from ocrops.errors import ErrorCode, OcropsError
from ocrops.formats import Format
from ocrops.formats.files import save


@dataclass
class ExportSummary:
    format: str
    folder: str
    files: int = 0  # written for
    skipped: dict[str, int] = field(default_factory=dict)  # error code -> files left out (not read)

    def to_dict(self) -> dict:
        return asdict(self)


def _lines(cell: Any) -> list[dict]:
    return [{"text": line["text"], "raw_text": line["raw_text"], "confidence": float(line["confidence"]),
             "box": [[float(x), float(y)] for x, y in line["box"]]} for line in (cell if cell is not None else [])]


def _page(row: pd.Series) -> dict:
    return {"mode": row["mode"], "text": row["text"], "lines": _lines(row["lines"]), "width": int(row["width"]),
            "height": int(row["height"]), "rotation": int(row["rotation"])}


def answers(frame: pd.DataFrame) -> Iterator[tuple[str, dict | int]]:
    """(path, the file's answer as the service gives it, or the error code of a file not read), by path."""
    if frame["width"].isna().all() and frame["error_code"].isna().any():
        raise OcropsError(ErrorCode.UNAVAILABLE, "these rows were read by a version registered before the batch "
                                                 "job kept page sizes: read the archive again with a newer one")
    for path, rows in frame.groupby("path", sort=True):
        if rows["error_code"].notna().any():
            yield path, int(rows["error_code"].dropna().iloc[0])
            continue
        if rows["page"].isna().all():
            yield path, _page(rows.iloc[0])
            continue
        pages = [{"page": int(row["page"]), **_page(row)} for _, row in rows.sort_values("page").iterrows()]
        yield path, {"mode": "page", "text": "\f".join(p["text"] for p in pages),
                     "lines": [{**line, "page": p["page"]} for p in pages for line in p["lines"]], "pages": pages}


def local_path(uri: str) -> str:
    return unquote(urlparse(uri).path) if "://" in uri or uri.startswith("file:") else uri


def write_documents(frame: pd.DataFrame, fmt: Format, folder: Path, read: Callable[[str], bytes]) -> ExportSummary:
    """Every file of ``frame`` (a batch job's rows) as ``fmt`` under ``folder``, at its place in the archive;
    ``read(path)``: the file's bytes (a searchable PDF is built on them, PAGE-XML writes its picture)."""
    summary = ExportSummary(format=str(fmt), folder=str(folder))
    paths = sorted(set(frame["path"]))
    if not paths:
        return summary
    root = os.path.commonpath([os.path.dirname(local_path(p)) for p in paths])
    skipped: dict[str, int] = {}
    for path, answer in answers(frame):
        if isinstance(answer, int):
            skipped[str(answer)] = skipped.get(str(answer), 0) + 1
            continue
        relative = Path(os.path.relpath(local_path(path), root))
        save(fmt, answer, read(path), relative.name, folder / relative.parent)
        summary.files += 1
    summary.skipped = dict(sorted(skipped.items()))
    return summary
