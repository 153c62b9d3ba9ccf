"""Register a model as the register stage does, in a process of its own (the fault tests limit its file size or
run it unprivileged): STORE_DIR MODEL_DIR IMAGE. Exit 0 registered, 1 a clear error (printed), 3 any other
exception (a traceback: not what a user should get)."""

import json
import sys
import traceback
from pathlib import Path

from ocrops.config import Params
from ocrops.errors import OcropsError, PipelineError
from ocrops.postprocess import Postprocessor
from ocrops.registry.versions import register

EVALUATION = {
    "test": {"adapted": {"cer": 0.1, "exact_match": 0.5, "term_recall": 0.9, "lines": 2,
                         "latency": {"p50_ms": 1.0, "p95_ms": 2.0}},
             "adapted_postprocessed": None, "base": {"cer": 0.2}},
    "general": {"cer_change_points": 0.0}, "test_set": {"digest": "fault-tests", "lines": 2},
}

if __name__ == "__main__":
    store, model_dir, image = map(Path, sys.argv[1:4])
    params = Params.model_validate({"mlflow": {"tracking_uri": f"sqlite:///{store / 'mlflow.db'}",
                                               "artifact_root": str(store / "artifacts")}})
    try:
        registered = register(params, model_dir, EVALUATION, Postprocessor(params.postprocess, []), image)
    except (OcropsError, PipelineError) as exc:
        print(f"register: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        sys.exit(3)
    print(json.dumps({"version": registered.version}))
