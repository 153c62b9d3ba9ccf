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
# the raw confidence as it is (Platt with a=1, b=0), lines under 0.99 need review: the service tests see lines of
# both kinds (a clean line reads at 0.99-0.9999, a slightly blurred one at ~0.96); the pretrained model was never
# calibrated
CALIBRATION = {"method": "platt", "threshold": 0.99, "a": 1.0, "b": 0.0}

if __name__ == "__main__":
    from ocrops.experiments.pretrained_bento import pretrained_bento
    from ocrops.postprocess import Calibration

    print(pretrained_bento(Path(sys.argv[1]), PROJECT, lexicon=LEXICON,
                           calibration=Calibration.from_dict(CALIBRATION)))
