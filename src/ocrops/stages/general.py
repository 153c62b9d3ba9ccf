"""The ``general`` stage: render the general (non-domain) lines of ``paths.general.recipe`` (the forgetting
check)."""

from __future__ import annotations

import shutil

from ocrops.config import Params
from ocrops.data.synth import load_recipe, synthesize


def run(params: Params) -> dict:
    recipe, out = params.paths.general.recipe, params.paths.general.lines
    shutil.rmtree(out, ignore_errors=True)
    result = synthesize(load_recipe(recipe), out, progress=False)
    return {"lines": result.count, "splits": result.splits}


def summary(report: dict) -> list[str]:
    return [f"{report['lines']} lines {report['splits']}"]
