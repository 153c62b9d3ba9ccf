from pathlib import Path

import pytest
import yaml

from conftest import PROJECT
from ocrops.config import Params, Paths, load_params
from ocrops.errors import ErrorCode, OcropsError
from ocrops.families import check_sections, for_base, settings_for


def test_project_params_are_valid():
    params = load_params(PROJECT / "params.yaml")
    assert for_base(params.train.base).name == "ppocr"  # the family comes from the base, named nowhere else
    assert params.validate_.max_input_side == 5000
    assert params.data.split.train + params.data.split.val + params.data.split.test == pytest.approx(1)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("data: {split: {train: 0.9, val: 0.2, test: 0.1}}", "add up to 1"),
        ("validate: {max_input_sid: 10}", "max_input_sid"),
        ("model: {family: tesseract}", "unknown section 'model'"),
        ("glm_ocr: {lora_rank: 0}", "glm_ocr: lora_rank"),  # a family's section, checked by its own model
        ("validate: {min_brightness: 200, max_brightness: 100}", "min_brightness"),
        ("data: [unclosed", "not valid YAML"),
        ("serve: {models: [ocrops-a, ocrops-b, ocrops-a]}", "a model is listed once: ocrops-a"),
    ],
)
def test_bad_params_name_the_problem(tmp_path: Path, text, needle):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(OcropsError) as info:
        check_sections(load_params(path))  # what every stage runs
    assert info.value.code == ErrorCode.INVALID_INPUT
    assert needle in str(info.value)


def test_a_family_section_reaches_the_family_with_defaults_when_absent():
    glm = for_base("glm-ocr:/somewhere")
    assert settings_for(Params(), glm).lora_rank == 8
    assert settings_for(Params.model_validate({"glm_ocr": {"lora_rank": 4}}), glm).lora_rank == 4
    assert settings_for(Params(), for_base("ppocr-v4")) is None  # a family without settings


def test_a_family_section_is_data_until_its_family_validates_it():
    params = Params.model_validate({"glm_ocr": {"lora_rank": 0}, "nofamily": {"x": 1}})  # parsing imports no family
    assert params.section("glm_ocr") == {"lora_rank": 0} and params.sections() == ["glm_ocr", "nofamily"]
    with pytest.raises(OcropsError, match="glm_ocr: lora_rank") as bad:
        settings_for(params, for_base("glm-ocr:/somewhere"))
    assert bad.value.code == ErrorCode.INVALID_INPUT
    with pytest.raises(OcropsError, match="unknown section 'nofamily'"):
        check_sections(Params.model_validate({"nofamily": {"x": 1}}))


def test_missing_params_file(tmp_path: Path):
    with pytest.raises(OcropsError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def _leaves(tree: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in tree.items():
        out |= _leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": str(value)}
    return out


def test_stage_files_are_declared_once_and_dvc_reads_them_from_params():
    """params.yaml's paths equal the schema's defaults, and dvc.yaml names no stage file literally: every
    outputs/ or reports/ path it mentions is a ${paths.*} reference to params.yaml."""
    declared = _leaves(yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))["paths"])
    assert declared == _leaves(Paths().model_dump(by_alias=True, mode="json"))
    dvc = (PROJECT / "dvc.yaml").read_text(encoding="utf-8")
    literal = [line.strip() for line in dvc.splitlines()
               if ("outputs/" in line or "reports/" in line) and not line.strip().startswith("#")]
    assert literal == []
    used = {ref for ref in __import__("re").findall(r"\$\{paths\.([\w.]+)\}", dvc)}
    assert used <= set(declared) and {"validate.accepted", "train.model", "export.engines"} <= used


def test_the_bento_installs_the_wheel_where_the_package_stage_builds_it():
    bentofile = yaml.safe_load((PROJECT / "bentos" / "bentofile.yaml").read_text(encoding="utf-8"))
    folder = Params().paths.package.folder
    assert all(Path(w).parent == folder / "wheels" for w in bentofile["python"]["wheels"])


def test_the_old_name_of_the_guard_limit_still_reads_with_a_warning():
    with pytest.warns(FutureWarning, match="max_guard_cer_rise"):
        params = Params.model_validate({"promote": {"max_general_cer_rise": 0.3}})
    assert params.promote.max_guard_cer_rise == 0.3


def test_the_old_serving_name_of_the_fp32_engine_still_reads_with_a_warning():
    with pytest.warns(FutureWarning, match="ort_fp32"):
        assert Params.model_validate({"serve": {"engine": "ort_cpu"}}).serve.engine == "ort_fp32"
