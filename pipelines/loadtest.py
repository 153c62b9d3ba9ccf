"""dvc stage `loadtest`: the built bento under load (QPS, p50/p95/p99 by concurrency; batching on/off; plain
FastAPI peer; half load and 4x overload)."""

from __future__ import annotations

import sys
from pathlib import Path

from ocrops.config import load_params
from ocrops.errors import OcropsError
from ocrops.stages.loadtest import run_loadtest
from ocrops.stages.package import bentoml_home


def main() -> int:
    bentoml_home(Path.cwd())
    try:
        report = run_loadtest(load_params("params.yaml"), bento_manifest=Path("outputs/package/bento.json"),
                              accepted=Path("outputs/validate/accepted.jsonl"),
                              report_path=Path("reports/loadtest.json"),
                              plots_dir=Path("reports/plots/loadtest"), logs=Path("outputs/loadtest"))
    except (OcropsError, RuntimeError) as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 1
    s = report["summary"]
    print(f"loadtest: saturation {s['saturation_requests_per_s']:.1f} req/s at {s['saturation_concurrency']} "
          f"clients = {s['service_vs_offline']:.2f}x the engine offline ({s['offline_lines_per_s']:.1f} lines/s), "
          f"{s['service_vs_peer']:.2f}x the FastAPI peer, batching on/off {s['batching_on_vs_off']:.2f}x")
    print(f"loadtest: overload {s['overload_offered_per_s']:.0f} req/s offered: {s['overload_accepted']} answered, "
          f"{s['overload_shed_503']} shed with 503, {s['overload_500s']} other 5xx, "
          f"{s['overload_client_errors']} unanswered; half-load p99 {s['half_load_p99_ms']:.0f} ms "
          f"(budget {s['half_load_p99_budget_ms']:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
