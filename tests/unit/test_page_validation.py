"""Page dataset validation: bad page rows are quarantined with their reason, polygons are judged in the upright
frame, and the validate stage writes the accepted pages beside the accepted lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from conftest import params_at, write_pages
from ocrops.data.page_validation import accepted_pages, validate_pages
from ocrops.data.pages import PageLine, PageRow, read_pages
from ocrops.data.pages import write_pages as write_rows
from ocrops.data.validation import Vocabulary

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    return write_pages(tmp_path_factory.mktemp("pages") / "pages", ["train", "val", "test"])


def _copy(pages: Path, tmp_path: Path) -> tuple[Path, list[PageRow]]:
    root = tmp_path / "pages"
    shutil.copytree(pages, root)
    rows, bad = read_pages(root)
    assert not bad
    return root, rows


def _params(tmp_path: Path, share: float = 1.0):
    return params_at(tmp_path, validate={"max_rejected_share": share})


def test_bad_page_rows_are_quarantined_with_their_reason(pages: Path, tmp_path: Path):
    root, rows = _copy(pages, tmp_path)
    good = rows[0]
    line = good.lines[0]
    broken = [
        PageRow("images/nowhere.jpg", good.lines, "train"),  # 4: no such file
        PageRow(good.image, [], "train", extra={"note": "no lines"}),  # 5 (same image: also a duplicate)
        PageRow(rows[1].image, [PageLine(" ", line.points)], "val"),  # 6
        PageRow(rows[2].image, [PageLine("x", [[5000, 5], [5100, 5], [5100, 40], [5000, 40]])], "test"),  # 7
    ]
    write_rows(root, [*rows, *broken])
    with (root / "pages.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"image": "images/p00000.jpg", "lines": "not a list"}\n')  # 8
    report, readable = validate_pages(root, _params(tmp_path), Vocabulary("any"), progress=False)
    reasons = {q["line"]: q["reasons"] for q in report.quarantine}
    assert "image_missing" in reasons[4]
    assert "page_no_lines" in reasons[5] and "duplicate_image" in reasons[5]
    assert "page_line_empty" in reasons[6]
    assert "page_polygon_outside" in reasons[7]
    assert reasons[8] == ["label_unreadable"]
    assert sorted(reasons) == [4, 5, 6, 7, 8]  # the three good pages pass
    assert [r.line for r in report.accepted] == [1, 2, 3]
    rows_out = accepted_pages(report, readable)
    assert [r["split"] for r in rows_out] == ["train", "val", "test"]
    assert rows_out[0]["path"] == (root / good.image).as_posix() and rows_out[0]["lines"][0]["text"] == line.text


def test_too_many_rejected_pages_fail_validation(pages: Path, tmp_path: Path):
    root, rows = _copy(pages, tmp_path)
    write_rows(root, [*rows, PageRow("images/nowhere.jpg", rows[0].lines, "train")])
    report, _ = validate_pages(root, _params(tmp_path, share=0.05), Vocabulary("any"), progress=False)
    assert not report.passed and "1 of 4 rows rejected" in report.failures[0]


@pytest.mark.parametrize("with_exif", [True, False])
def test_polygons_are_judged_in_the_upright_frame_of_an_exif_turned_photo(pages: Path, tmp_path: Path,
                                                                        with_exif: bool):
    root, rows = _copy(pages, tmp_path)
    path = root / rows[0].image
    upright = ImageOps.exif_transpose(Image.open(path))
    w, h = upright.size
    assert h > w
    footer = PageLine("页脚", [[100, h - 60], [300, h - 60], [300, h - 30], [100, h - 30]])  # below the stored height
    write_rows(root, [PageRow(rows[0].image, [*rows[0].lines, footer], rows[0].split), *rows[1:]])
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned, "rotate 90 degrees clockwise to view"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif if with_exif else Image.Exif())
    report, _ = validate_pages(root, _params(tmp_path), Vocabulary("any"), progress=False)
    if with_exif:
        assert report.quarantine == [] and len(report.accepted) == 3
    else:  # the same pixels without the tag are a landscape page, and the footer lies below it
        assert [q["reason"] for q in report.quarantine] == ["page_polygon_outside"]


def test_the_validate_stage_writes_the_accepted_pages(pages: Path, small_dataset: Path, tmp_path: Path):
    from ocrops.stages import validate

    params = params_at(tmp_path, data={"path": str(small_dataset), "pages": str(pages)})
    figures = validate.run(params)
    assert figures["pages"]["accepted"] == 3 and figures["pages"]["lines"] > 60
    written = [json.loads(x) for x in params.paths.validate_.pages.read_text(encoding="utf-8").splitlines()]
    assert [r["split"] for r in written] == ["train", "val", "test"]
    assert json.loads(params.paths.validate_.metrics.read_text(encoding="utf-8"))["pages"] == figures["pages"]
    assert params.paths.validate_.page_report.exists() and params.paths.validate_.page_quarantine.read_text() == ""


def test_without_a_page_set_the_stage_says_so_and_later_stages_find_no_pages(small_dataset: Path, tmp_path: Path):
    from ocrops.evaluation.pages import labelled_pages
    from ocrops.stages import validate

    params = params_at(tmp_path, data={"path": str(small_dataset), "pages": str(tmp_path / "no-pages")})
    figures = validate.run(params)
    assert figures["passed"] and "no page dataset" in figures["pages"]["skipped"]
    assert params.paths.validate_.pages.read_text(encoding="utf-8") == ""
    assert labelled_pages(params.paths.validate_.pages, "test") == []
    assert labelled_pages(tmp_path / "absent.jsonl", "test") == []
