"""dvc stage `general`: render the general (non-domain) lines from recipes/general.yaml."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ocrops.data.synth import load_recipe, synthesize

OUT = Path("outputs/general")


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    summary = synthesize(load_recipe("recipes/general.yaml"), OUT, progress=False)
    print(f"general lines: {summary.count} {summary.splits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
