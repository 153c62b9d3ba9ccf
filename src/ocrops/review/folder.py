"""A folder of scans, photos or PDFs read with a registered version as the service reads them (its page reader,
post-processing and calibration); the lines it doubts — or every line — kept in a capture store as the service
would keep them, so ``ocrops review push --images`` sends them to Label Studio like the service's own."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from ocrops.config import Params
from ocrops.data.captures import CaptureStore, line_record
from ocrops.data.documents import DocumentLimits, open_document
from ocrops.data.images import IMAGE_SUFFIXES
from ocrops.errors import ErrorCode, OcropsError
from ocrops.families import saved_detector
from ocrops.inference.inputs import document_limits
from ocrops.inference.pages import PageReader, page_reader
from ocrops.inference.types import Prediction
from ocrops.models import load_model
from ocrops.postprocess import POSTPROCESS_FILE, Postprocessor
from ocrops.tracking import download_registered, parse_version_ref, registered_version, setup

SUFFIXES = IMAGE_SUFFIXES | {".pdf"}


@dataclass
class FolderRead:
    model: dict[str, str]
    files: int = 0
    lines: int = 0
    kept: int = 0
    unreadable: list[dict] = field(default_factory=list)  # {"file", "code", "error"}


def read_folder(folder: Path, store: CaptureStore, params: Params, model: str | None = None,
                every_line: bool = False, progress: bool = True) -> FolderRead:
    """Read every image and PDF under ``folder`` with ``model`` (default: the champion) and keep the lines it
    marks ``needs_review`` (``every_line``: all) in ``store``."""
    setup(params)
    ref = parse_version_ref(model or "@champion", params.mlflow.registered_model)
    version = str(registered_version(ref).version)
    with tempfile.TemporaryDirectory(prefix="ocrops-review-") as tmp:
        model_dir = download_registered(f"models:/{ref.name}/{version}", tmp)
        chain = Postprocessor.load(model_dir.parent / POSTPROCESS_FILE)
        if chain.calibration is None and not every_line:
            raise OcropsError(ErrorCode.UNAVAILABLE, f"{ref.name} version {version} carries no confidence "
                              "calibration, so it marks no line needs_review: push --every-line, or register "
                              "a new version (dvc repro)")
        reader = FolderReader(page_reader(params.serve, saved_detector(model_dir)), load_model(model_dir).predict,
                              chain, {"name": ref.name, "version": version, "alias": ref.alias or ""},
                              document_limits(params.serve))  # what the service refuses is listed, not read
        return reader.keep(folder, store, every_line, progress)


@dataclass
class FolderReader:
    pages: PageReader
    recognize: Callable[[list[Image.Image]], list[Prediction]]
    chain: Postprocessor
    model: dict[str, str]  # name, version, alias: recorded with each kept line
    limits: DocumentLimits = DocumentLimits()

    def keep(self, folder: Path, store: CaptureStore, every_line: bool = False, progress: bool = False) -> FolderRead:
        """Each file's lines as the service answers them; those needing review (or all) written to ``store``. A
        line's id comes from its file's bytes and time, so reading the folder again pushes nothing twice."""
        folder = Path(folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not files:
            raise OcropsError(ErrorCode.INVALID_INPUT,
                              f"{folder} holds no image or PDF ({', '.join(sorted(SUFFIXES))})")
        result = FolderRead(self.model)
        for path in tqdm(files, unit="file", desc="read", disable=not progress):
            data, name, written = path.read_bytes(), path.relative_to(folder).as_posix(), path.stat().st_mtime
            digest = hashlib.sha256(data).hexdigest()[:16]
            try:
                for page in open_document(data, self.limits):
                    answered: list[tuple[Image.Image, dict]] = []
                    self.pages.read([page.load()], self.recognize, post=self.chain,
                                    keep=lambda crop, line, into=answered: into.append((crop, line)))
                    for n, (crop, line) in enumerate(answered, 1):
                        if every_line or line.get("needs_review") is True:
                            record = line_record(line, self.model, f"{digest}p{page.index + 1}")
                            store.write(crop, record | {"line": n, "file": name, "page": page.index + 1},
                                        now=written)
                            result.kept += 1
                    result.lines += len(answered)
            except OcropsError as exc:
                result.unreadable.append({"file": name, "code": exc.code.value, "error": exc.message})
            result.files += 1
        return result
