"""A bento built for the service tests without training (``ocrops.experiments.pretrained_bento``).

Run as a script in a child process (``python tests/bento_fixture.py ROOT``) so that BENTOML_HOME is set
before bentoml is imported; prints the bento tag.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
# the terms the service tests read (post-processing corrects toward them)
LEXICON = ("Hemoglobin", "Creatinine")

if __name__ == "__main__":
    from ocrops.experiments.pretrained_bento import pretrained_bento

    print(pretrained_bento(Path(sys.argv[1]), PROJECT, lexicon=LEXICON))
