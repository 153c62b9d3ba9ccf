"""`ocrops review push --images`: a folder of line images, photos and PDFs read as the service reads them; the
lines the calibrated model doubts kept like captured lines (text masked), the same ids on a second read, files it
cannot read listed with their code."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFilter

from conftest import line_image
from ocrops.config import DEFAULT_BASE, PostprocessParams
from ocrops.data.captures import CaptureStore
from ocrops.data.documents import pdf_from_images
from ocrops.inference.pages import PageReader
from ocrops.models import pretrained
from ocrops.postprocess import Calibration, Postprocessor
from ocrops.review.folder import FolderReader

# raw confidence as it is, lines under 0.99 need review (as the service tests' Bento): a clean line reads at
# 0.99-0.9999, a blurred one lower
CALIBRATION = Calibration.from_dict({"method": "platt", "threshold": 0.99, "a": 1.0, "b": 0.0})
MODEL = {"name": "ocrops", "version": "7", "alias": "champion"}


@pytest.fixture(scope="module")
def reader() -> FolderReader:
    chain = Postprocessor(PostprocessParams(), [], CALIBRATION)
    return FolderReader(PageReader(), pretrained(DEFAULT_BASE).predict, chain, MODEL)


def blurred(text: str) -> Image.Image:
    return line_image(text, size=(320, 40)).filter(ImageFilter.GaussianBlur(1.6))


def test_doubted_lines_of_a_folder_are_kept_as_captures(reader, tmp_path):
    folder = tmp_path / "scans"
    (folder / "sub").mkdir(parents=True)
    line_image("Hemoglobin 135 g/L", size=(320, 40)).save(folder / "clean.png")
    blurred("Call 13812345678 now").save(folder / "sub" / "phone.png")
    (folder / "two-pages.pdf").write_bytes(pdf_from_images([blurred("Creatinine 88 umol/L"),
                                                            line_image("Glucose 5.1 mmol/L", size=(320, 40))]))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (folder / "notes.txt").write_text("not an image")

    store = CaptureStore(str(tmp_path / "store"))
    read = reader.keep(folder, store)
    assert read.files == 4 and read.unreadable == [{"file": "broken.png", "code": 4001,
                                                    "error": read.unreadable[0]["error"]}]
    kept = list(store)
    assert read.kept == len(kept) and 1 <= read.kept < read.lines
    for line in kept:  # only what the model doubts, as the service would have captured it
        assert line.record["confidence"] < 0.99 and line.record["model"] == MODEL
        assert Image.open(io.BytesIO(line.image)).width > 0
    by_file = {(line.record["file"], line.record["page"]) for line in kept}
    assert ("clean.png", 1) not in by_file
    phone = [line.record for line in kept if line.record["file"] == "sub/phone.png"]
    assert phone and "13812345678" not in phone[0]["text"] + phone[0]["raw_text"]

    again = CaptureStore(str(tmp_path / "again"))
    reader.keep(folder, again)
    assert again.ids() == store.ids()  # pushed twice, tasks once

    every = CaptureStore(str(tmp_path / "every"))
    assert reader.keep(folder, every, every_line=True).kept == read.lines == len(every.ids())
