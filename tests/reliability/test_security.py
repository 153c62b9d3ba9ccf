"""Security promises (SECURITY.md), each checked: API keys compared in constant time and never logged, request
logs without OCR text or personal data unless `serve.log_content` is switched on, PII masked only when a
checksum holds, rate limits per key, the Bento's container user, and a secret scanner that catches a key."""

from __future__ import annotations

import base64
import hmac
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from conftest import PROJECT, line_image, serve
from ocrops.postprocess import redact
from ocrops.serving.auth import ApiKeys
from ocrops.serving.http import Gatekeeper
from ocrops.serving.settings import ServeSettings
from reliability_report import record

pytestmark = pytest.mark.integration

KEY = "ocrops-test-key-" + "5f1c"  # built, so the secret scanner does not take the test for a leak
PHONE = "13812345678"


def b64_png(text: str) -> str:
    buf = io.BytesIO()
    line_image(text, (360, 40)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_api_keys_are_compared_in_constant_time(monkeypatch):
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    keys = ApiKeys(["alpha-key", "beta-key", "gamma-key"])
    outcomes = {}
    for presented in ("alpha-key", "gamma-key", "wrong", "x" * 500):
        calls.clear()
        outcomes[presented[:12]] = keys.valid(presented)
        # every stored key is compared, on digests of one length, whatever was presented and wherever it matched
        assert calls == [(32, 32)] * 3, calls
    record("security_keys", constant_time_comparisons=len(outcomes), compared_per_check=3, digest_bytes=32)
    assert outcomes == {"alpha-key": True, "gamma-key": True, "wrong": False, "x" * 12: False}


@pytest.mark.parametrize(("text", "masked"), [
    ("card 4111 1111 1111 1111", True),          # Luhn holds
    ("card 4111 1111 1111 1112", False),         # Luhn fails: a lab number, left alone
    ("ID 11010519491231002X", True),             # resident id with a valid check character
    ("ID 110105194912310021", False),            # wrong check character
    (f"Tel {PHONE}", True),
    ("mail someone@example.org", True),
    ("WBC 6.5 x10^9/L", False),
])
def test_pii_is_masked_only_when_its_checksum_holds(text, masked):
    out = redact(text)
    record("security_pii", **{text: "masked" if out != text else "kept"})
    assert (out != text) is masked, out


def test_rate_limits_hold_per_key():
    async def ok(request):
        return JSONResponse({})

    app = Starlette(routes=[Route("/ocr", ok, methods=["POST"])])
    app.add_middleware(Gatekeeper, settings=ServeSettings(rate_limit={"rate": 0.01, "burst": 3}),
                       api_keys=ApiKeys(["key-a", "key-b"]))
    client = TestClient(app)
    a = [client.post("/ocr", headers={"Authorization": "Bearer key-a"}).status_code for _ in range(5)]
    b = [client.post("/ocr", headers={"Authorization": "Bearer key-b"}).status_code for _ in range(3)]
    record("security_rate_limit", key_a=a, key_b=b)
    assert a == [200, 200, 200, 429, 429] and b == [200, 200, 200]  # one key's flood leaves the other alone


def _requests(url: str) -> list[requests.Response]:
    headers = {"Authorization": f"Bearer {KEY}"}
    answers = [requests.post(url + "/ocr", json={"image": b64_png(f"Tel {PHONE}")}, headers=headers, timeout=60),
               requests.post(url + "/ocr", json={"image": b64_png("Creatinine 88 umol/L")}, headers=headers,
                             timeout=60),
               requests.post(url + "/ocr", json={"image": "bm90IGFuIGltYWdl"}, headers={"X-API-Key": KEY},
                             timeout=60),
               requests.post(url + "/ocr", json={"image": b64_png("x")}, headers={"Authorization": "Bearer wrong"},
                             timeout=60)]
    return answers


def served(bento, **env) -> tuple[list[int], list[str], str]:
    """Statuses and texts of the requests above, and the server's whole log."""
    server = serve(bento, OCROPS_API_KEYS=KEY, OCROPS_SERVE_RATE_LIMIT__ENABLED="false", **env)
    with server as url:
        answers = _requests(url)
    texts = [a.json().get("text", "") for a in answers]
    return [a.status_code for a in answers], texts, server.log_path.read_text(encoding="utf-8", errors="replace")


def test_request_logs_carry_no_keys_text_or_personal_data_unless_debugging(bento):
    statuses, texts, log = served(bento)
    read = [t for t in texts[:2] if len(t) > 3]
    leaks = [s for s in (KEY, PHONE, *read) if s in log]
    statuses_debug, texts_debug, debug_log = served(bento, OCROPS_SERVE_LOG_CONTENT="true")
    record("security_logs", requests=len(statuses) * 2, leaks_default=len(leaks),
           text_in_debug_log=all(t in debug_log for t in read), key_in_debug_log=KEY in debug_log)
    assert statuses == statuses_debug == [200, 200, 400, 401], statuses
    assert len(read) == 2, texts  # the lines were read, so there was text that could have leaked
    assert not leaks, leaks
    assert log.count("ocrops.access") >= 4 or log.count("request_id=") >= 4  # one line per request is there
    # the debugging switch does log the text (so this test would see a leak), never the key
    assert "log_content is on" in debug_log and all(t in debug_log for t in read) and KEY not in debug_log


def test_the_bento_container_runs_as_a_non_root_user(bento):
    _, env = bento
    dockerfile = next(Path(env["BENTOML_HOME"], "bentos").rglob("env/docker/Dockerfile"))
    users = [line.split()[1] for line in dockerfile.read_text(encoding="utf-8").splitlines()
             if line.startswith("USER ")]
    record("security_container", dockerfile_users=users, runs_as=users[-1])
    assert users and users[-1] not in ("root", "0"), users


def secrets_excluded() -> re.Pattern:
    """The generated files `make lint` leaves out of the secret scan (SECRETS_EXCLUDE in the Makefile)."""
    line = next(x for x in (PROJECT / "Makefile").read_text().splitlines() if x.startswith("SECRETS_EXCLUDE :="))
    return re.compile(line.split(":=", 1)[1].strip().replace("$$", "$"))


def test_the_secret_scanner_passes_the_repository_and_catches_a_planted_key(tmp_path: Path):
    hook = [str(Path(sys.executable).parent / "detect-secrets-hook")]
    planted = tmp_path / "settings.py"
    # AWS's documented example credentials, assembled here so this file itself is not a finding
    planted.write_text(f'aws_access_key_id = "{"AKIA" + "IOSFODNN7EXAMPLE"}"\n'
                       f'aws_secret_access_key = "{"wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"}"\n')
    caught = subprocess.run([*hook, str(planted)], capture_output=True, text=True, cwd=PROJECT)
    files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=PROJECT).stdout.split()
    scanned = [f for f in files if not secrets_excluded().search(f)]  # what `make lint` scans
    clean = subprocess.run([*hook, *scanned], capture_output=True, text=True, cwd=PROJECT) if scanned else None
    record("security_secrets", files_scanned=len(scanned), planted_caught=caught.returncode != 0,
           findings_in_repo=0 if clean is None or clean.returncode == 0 else clean.stdout.count("Secret Type"))
    assert caught.returncode == 1 and "AWS Access Key" in caught.stdout, caught.stdout
    if clean is not None:  # a checkout without git metadata has nothing to list
        assert clean.returncode == 0, clean.stdout[-2000:]
