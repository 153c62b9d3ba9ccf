"""Headless Chromium for tests that drive a real page (the service's web page, the MLflow UI), and where
their screenshots go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import PROJECT

ARTIFACTS = Path(os.environ.get("OCROPS_TEST_ARTIFACTS", PROJECT / "test-artifacts"))
# no component updates, sync or background requests: the machines here have no internet
CHROMIUM_ARGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-dev-shm-usage"]


def chromium() -> str:
    for candidate in (os.environ.get("OCROPS_CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("Chromium not found: `make browser` installs Debian's chromium (or set OCROPS_CHROMIUM)")


def launch() -> Iterator:
    """A launched headless Chromium, closed when the generator ends (for module fixtures)."""
    from playwright.sync_api import sync_playwright

    args = CHROMIUM_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else [])  # root cannot use the sandbox
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True, args=args)
        yield launched
        launched.close()


def screenshot(tab, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    tab.screenshot(path=str(path), full_page=full_page)
    return path
