"""``python -m ocrops.stages NAME``: one dvc stage (for launchers such as ``accelerate launch -m``)."""

import sys

from ocrops.stages import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
