"""The README is a front door and the metrics fit a screen: the README stays short and its links resolve,
`dvc metrics show` lists at most 40 headline figures, and the README shows what it lists."""

from __future__ import annotations

import json
import re

import yaml

from conftest import PROJECT
from ocrops.config import flatten, load_params

README = (PROJECT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 250


def test_the_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not target.startswith(("http://", "https://")):
            assert (PROJECT / target).exists(), target


def metric_files() -> list[str]:
    """The files dvc.yaml declares as metrics, with ${paths.*} resolved from params.yaml."""
    params = load_params(PROJECT / "params.yaml").model_dump(mode="json", by_alias=True)
    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    files = []
    for stage in stages.values():
        for entry in stage.get("metrics", []):
            name = next(iter(entry)) if isinstance(entry, dict) else entry
            files.append(re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(params, m[1])), name))
    return files


def _lookup(data: dict, dotted: str) -> object:
    for part in dotted.split("."):
        data = data[part]
    return data


def numbers(path: str) -> dict[str, float]:
    report = json.loads((PROJECT / path).read_text(encoding="utf-8"))
    return {k: v for k, v in flatten(report).items() if isinstance(v, int | float) and not isinstance(v, bool)}


def test_dvc_metrics_show_fits_a_screen():
    files = metric_files()
    assert len(files) == 8 and all((PROJECT / f).exists() for f in files), files
    assert sum(len(numbers(f)) for f in files) <= 40


def test_the_readme_shows_the_headline_figures():
    shown = README[README.index("$ dvc metrics show"):]
    shown = shown[: shown.index("```")]
    for path in metric_files():
        assert path in shown, path
        for key in numbers(path):
            assert key in shown, f"{path}: {key}"


def test_the_base_model_page_shows_the_committed_measurement():
    """docs/how-to/choose-a-base.md embeds reports/bases.md and the v6 ablation as they were written, and the
    default base is the one the bases report chose."""
    page = (PROJECT / "docs" / "how-to" / "choose-a-base.md").read_text(encoding="utf-8")
    for name, report in (("bases", "bases.md"), ("ablation-v6", "ablation-v6.md")):
        shown = re.search(rf"<!-- {name} -->\n(.*)<!-- /{name} -->", page, re.S)
        assert shown is not None, name
        assert shown[1] == (PROJECT / "reports" / report).read_text(encoding="utf-8"), name
    chosen = json.loads((PROJECT / "reports" / "bases.json").read_text(encoding="utf-8"))["chosen"]
    assert load_params(PROJECT / "params.yaml").train.base == chosen


def test_the_training_page_shows_the_committed_memory_measurement():
    page = (PROJECT / "docs" / "tutorials" / "training.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- train-memory -->\n(.*)<!-- /train-memory -->", page, re.S)
    assert shown is not None
    assert shown[1] == (PROJECT / "reports" / "train_memory.md").read_text(encoding="utf-8")
