from pathlib import Path

import pytest

from conftest import PROJECT
from ocrops.config import load_params
from ocrops.errors import ErrorCode, OcropsError


def test_project_params_are_valid():
    params = load_params(PROJECT / "params.yaml")
    assert params.model.family == "ppocr"
    assert params.validate_.max_input_side == 5000
    assert params.data.split.train + params.data.split.val + params.data.split.test == pytest.approx(1)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("data: {split: {train: 0.9, val: 0.2, test: 0.1}}", "add up to 1"),
        ("validate: {max_input_sid: 10}", "max_input_sid"),
        ("model: {family: tesseract}", "model.family"),
        ("validate: {min_brightness: 200, max_brightness: 100}", "min_brightness"),
        ("data: [unclosed", "not valid YAML"),
    ],
)
def test_bad_params_name_the_problem(tmp_path: Path, text, needle):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(OcropsError) as info:
        load_params(path)
    assert info.value.code == ErrorCode.MALFORMED_REQUEST
    assert needle in str(info.value)


def test_missing_params_file(tmp_path: Path):
    with pytest.raises(OcropsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
