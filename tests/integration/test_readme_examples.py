"""The documented HTTP examples (docs/tutorials/call-the-api.md) against a real `bentoml serve` of the test bento:
the same commands, and what they print has the page's format (values that depend on the model or the moment
aside)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import serve
from ocrops.harness.examples import DOCUMENTED, EXAMPLES, LONG_FLOAT, blocks, normalised, rewrite, run

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[2]
README = (PROJECT / DOCUMENTED).read_text(encoding="utf-8")


def test_every_readme_example_block_has_its_commands():
    shown = blocks(README)
    assert set(shown) == set(EXAMPLES)
    for name, body in shown.items():
        assert "\\u" not in body and not LONG_FLOAT.search(body), name  # what the service sends, not escapes
        for command in EXAMPLES[name]:
            assert "$ " + command.replace("$URL", "http://127.0.0.1:3000") in body


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the examples run curl and jq "
                    "(make test installs them)")
def test_the_service_prints_what_the_readme_shows(bento):
    with serve(bento) as url:
        fresh = {name: run(name, url, PROJECT) for name in EXAMPLES}
    for name, body in blocks(README).items():
        assert normalised(fresh[name]) == normalised(body), (name, fresh[name])
    assert blocks(rewrite(README, fresh)) == fresh  # the script writes back exactly what it ran
