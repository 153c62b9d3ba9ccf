"""Minimal HTTP calls the stages make to a served bento (one ``requests.Session`` per thread)."""

from __future__ import annotations

import threading

import requests

_local = threading.local()


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def post_ocr(url: str, image_b64: str, timeout_s: float = 60, **fields) -> requests.Response:
    return session().post(f"{url}/ocr", json={"image": image_b64, **fields}, timeout=timeout_s)
