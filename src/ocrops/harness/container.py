"""The Bento's container image, built and run for real with podman (``make container``, ``make long``).

``build`` runs deploy/container/build.sh (an offline base from Debian's packages, then ``bentoml containerize``
with the podman backend); ``check`` runs the image, reads the test split through it with ``ocrops predict`` and
compares every answer with ``bentoml serve`` of the same Bento, the served CER with the registered one, the user
with root, and asks /metrics.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from ocrops.config import ContainerPaths
from ocrops.harness.server import BIN, ServerProcess, bento_server, free_port

RECIPE = ContainerPaths().recipe  # the image's base and build scripts (paths.container.recipe)


def podman_env() -> dict[str, str]:
    """podman with the project's containers.conf (runc, host-granted ulimits); nothing written to /etc."""
    return os.environ | {"CONTAINERS_CONF": str((RECIPE / "containers.conf").resolve())}


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], env=podman_env(), check=check, capture_output=True, text=True)


def image_size(image: str) -> int:
    """Bytes, as ``podman images`` reports them (all layers, base included)."""
    return int(json.loads(podman("image", "inspect", image).stdout)[0]["Size"])


def build(bento: str) -> dict:
    """The base image (built once per recipe) and the Bento's image; seconds for each, sizes, tags."""
    env = podman_env() | {"PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    base = subprocess.run([str(RECIPE / "base.sh")], env=env, check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()
    base_s = time.monotonic() - started
    started = time.monotonic()
    image = subprocess.run([str(RECIPE / "build.sh"), bento], env=env, check=True, stdout=subprocess.PIPE,
                           text=True).stdout.strip()
    return {"bento": bento, "image": image, "base_image": base, "base_build_s": round(base_s, 1),
            "image_build_s": round(time.monotonic() - started, 1), "image_bytes": image_size(image),
            "base_image_bytes": image_size(base)}


@contextmanager
def running(image: str, timeout_s: float = 120):
    """``podman run`` the image on a free 127.0.0.1 port; yields (url, name, seconds until /readyz answered)."""
    port, name = free_port(), f"ocrops-check-{os.getpid()}"
    cmd = ["podman", "run", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:3000", image]
    server = ServerProcess(cmd, port, "/readyz", env=podman_env(), timeout_s=timeout_s)
    started = time.monotonic()
    try:
        url = server.start()
        yield url, name, time.monotonic() - started
    finally:
        server.stop()  # podman passes the signal on to the container
        podman("rm", "--force", "--ignore", name, check=False)  # one that outlived its podman client


def predict(url: str, files: list[Path]) -> list[str]:
    """The texts ``ocrops predict --format json --mode line`` prints for ``files``, in order."""
    out = subprocess.run([str(BIN / "ocrops"), "predict", "--url", url, "--format", "json", "--mode", "line",
                          "--concurrency", "2", "--no-progress", *map(str, files)],
                         check=True, capture_output=True, text=True)
    # the recognizer's own reading (raw_text), as the evaluate stage's test CER measures it
    return ["\n".join(line["raw_text"] for line in json.loads(answer)["lines"])
            for answer in out.stdout.splitlines() if answer.strip()]


def check(image: str, bento: str, accepted: Path, registered: dict[str, str]) -> dict:
    """Run ``image`` and hold it to what ``bentoml serve`` of ``bento`` answers and what was registered."""
    from ocrops.data.lines import LineDataset
    from ocrops.evaluation.metrics import cer

    test = LineDataset.from_accepted(accepted, "test")
    files = [line.path for line in test]
    with running(image) as (url, name, ready_s):
        user = podman("exec", name, "id", "-un").stdout.strip()
        uid = int(podman("exec", name, "id", "-u").stdout.strip())
        with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
            metrics_ok = response.status == 200 and b"ocrops_" in response.read()
        served = predict(url, files)
        # what the image holds: no torch, no training stack
        pip_list = podman("exec", name, "/app/.venv/bin/python", "-c",
                          "import importlib.metadata as m; print(sorted(d.metadata['Name'].lower() "
                          "for d in m.distributions()))").stdout
        python = podman("exec", name, "/app/.venv/bin/python", "-c",
                        "import platform; print(platform.python_version())").stdout.strip()
    installed = ast.literal_eval(pip_list.strip())
    with bento_server(bento, env={"OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}) as local:
        reference = predict(local, files)
    container_cer = cer(served, test.texts())
    same_test_set = registered.get("test_set_digest") == test.digest()
    registered_cer = float(registered["test_cer"]) if "test_cer" in registered else None
    return {
        "image": image, "bento": bento, "ready_s": round(ready_s, 1), "user": user, "uid": uid,
        "metrics_answer": metrics_ok, "lines": len(test), "container_cer": container_cer,
        "registered_cer": registered_cer, "same_test_set": same_test_set,
        "cer_matches_registered": registered_cer is not None and f"{container_cer:.6g}" == f"{registered_cer:.6g}",
        "answers_equal_bentoml_serve": sum(a == b for a, b in zip(served, reference, strict=True)),
        "torch_in_image": "torch" in installed, "packages_in_image": len(installed), "python": python,
    }
