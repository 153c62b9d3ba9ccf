"""Optional API-key authentication: keys from the environment, compared in constant time, never logged."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

KEYS_ENV = "OCROPS_API_KEYS"  # comma-separated keys
KEYS_FILE_ENV = "OCROPS_API_KEYS_FILE"  # or a file with one key per line (a mounted secret)
SALT_ENV = "OCROPS_KEY_SALT"  # the deployment's secret salt for key fingerprints; random per process when unset
_PROCESS_SALT = os.urandom(16)


def key_id(key: str) -> str:
    """A key's name in logs and rate-limit buckets: a salted fingerprint (HMAC-SHA256 under the deployment's
    salt), so a weak key cannot be recovered from a log by hashing guesses."""
    salt = os.environ.get(SALT_ENV, "").encode() or _PROCESS_SALT
    return "key:" + hmac.new(salt, key.encode(), hashlib.sha256).hexdigest()[:12]


class ApiKeys:
    def __init__(self, keys: list[str]) -> None:
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys if k]

    @classmethod
    def from_env(cls) -> ApiKeys:
        keys = [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",")]
        if path := os.environ.get(KEYS_FILE_ENV):
            keys += [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
        return cls([k for k in keys if k])

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def valid(self, key: str | None) -> bool:
        if not key:
            return False
        digest = hashlib.sha256(key.encode()).digest()
        # every stored key is compared, so the time taken does not tell which one nearly matched
        found = False
        for stored in self._digests:
            found |= hmac.compare_digest(digest, stored)
        return found


def presented_key(headers: dict[str, str]) -> str | None:
    """``Authorization: Bearer KEY`` (what OpenAI and glmocr clients send) or ``X-API-Key: KEY``."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return headers.get("x-api-key") or None
