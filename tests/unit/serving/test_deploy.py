"""deploy/ stays consistent with the service: manifests parse, probes and ports match, and every metric the
dashboard, the alerts and the autoscaler query is one the service exports."""

from __future__ import annotations

import json
import re

import yaml
from prometheus_client import CollectorRegistry, generate_latest

from conftest import PROJECT

DEPLOY = PROJECT / "deploy"


def exported_names() -> set[str]:
    """Metric names as /metrics shows them, from the service's own definitions on a private registry."""
    from prometheus_client import Counter, Gauge, Histogram

    registry = CollectorRegistry()
    source = (PROJECT / "src" / "ocrops" / "serving" / "metrics.py").read_text(encoding="utf-8")
    defined = re.findall(r'(Counter|Gauge|Histogram)\("(\w+)"', source)
    assert len(defined) == 9
    kinds = {"Counter": Counter, "Gauge": Gauge, "Histogram": Histogram}
    for kind, name in defined:
        metric = kinds[kind](name, "doc", registry=registry)
        metric.inc() if kind != "Histogram" else metric.observe(1)
    return set(re.findall(r"^(\w+)", generate_latest(registry).decode(), re.M))


def queried_names(text: str) -> set[str]:
    return set(re.findall(r"\bocrops_\w+", text))


def test_manifests_parse_and_probe_the_bentoml_endpoints():
    docs = {path.name: list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            for path in (DEPLOY / "k8s").glob("*.yaml")}
    deployment = docs["deployment.yaml"][0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["image"].endswith("/ocrops:latest")  # as `make container` tags it
    assert "nvidia.com/gpu" not in container["resources"]["limits"]  # the CPU image; the patch adds the GPU
    gpu = docs["gpu-patch.yaml"][0]["spec"]["template"]["spec"]
    assert gpu["containers"][0]["name"] == container["name"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    port = container["ports"][0]["containerPort"]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert f'"http": {{"port": {port}}}' in (PROJECT / "bentos" / "service.py").read_text(encoding="utf-8")
    hpa = docs["hpa.yaml"][0]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_dashboard_alerts_and_autoscaler_query_exported_metrics():
    exported = exported_names()
    dashboard = json.loads((DEPLOY / "grafana" / "ocrops-dashboard.json").read_text(encoding="utf-8"))
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for text in (exprs, (DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"),
                 (DEPLOY / "k8s" / "hpa.yaml").read_text(encoding="utf-8")):
        names = queried_names(text)
        assert names and names <= exported, names - exported
