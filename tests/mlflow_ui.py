"""The README's path through the MLflow UI (3.17), driven in headless Chromium: `ocrops ui`, the workflow switch
to "Model training", "Model registry", the first-visit modal, the model, a version page (its description's
headline table), the alias dialog. The integration test walks it on the test pipeline's store; `make
screenshots` walks it on the project's own store and writes the README's images (docs/img/mlflow-*.png).

    python tests/mlflow_ui.py --out docs/img      # from the project root, after `make run`
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from browser import launch  # noqa: E402

from ocrops.harness.server import ServerProcess, free_port  # noqa: E402

VIEWPORT = {"width": 1400, "height": 900}
HEADLINE = "Domain test CER (raw)"  # the first row of the table `register` writes into the description


@contextmanager
def ocrops_ui(project: Path, log: Path) -> Iterator[str]:
    """`ocrops ui` on a free port in ``project``, as a user starts it (no MLFLOW_TRACKING_URI)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cmd = ["bash", "-c", f'cd "{project}" && exec "{Path(sys.executable).parent / "ocrops"}" ui --port {port}']
    server = ServerProcess(cmd, port, "/health", env=env, log_path=log, timeout_s=120)
    with server as url:
        yield url


def shot(tab, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(out / name))
    return out / name


def walk_to_version(tab, url: str, model: str, version: str, out: Path) -> None:
    """Home -> "Model training" -> "Model registry" -> (the modal) -> MODEL -> "Version N"."""
    tab.goto(url + "/", wait_until="load")
    tab.get_by_role("button", name="Model training").click(timeout=60_000)  # the UI opens in GenAI mode
    tab.get_by_text("Model registry", exact=True).first.click()
    modal = tab.get_by_role("button", name="Try it now")  # "Flexible, governed deployments..." on a first visit
    modal.wait_for(timeout=30_000)
    shot(tab, out, "mlflow-registry-modal.png")
    modal.click()
    tab.get_by_role("link", name=model, exact=True).click()
    tab.get_by_role("link", name=f"Version {version}", exact=True).click()
    tab.get_by_role("heading", name=f"Version {version}").wait_for(timeout=30_000)
    close = tab.get_by_role("button", name="Close")  # the MLflow Assistant panel, beside the page
    if close.count():
        close.first.click()


def headline_table(tab):
    """The description's table, once rendered (and the page's other requests given a moment to land)."""
    table = tab.get_by_role("table").filter(has_text=HEADLINE)
    table.wait_for(timeout=30_000)
    tab.wait_for_timeout(2000)
    return table


def open_alias_dialog(tab, alias: str):
    """The pencil (or "Add") next to Aliases, then ALIAS typed in; returns the dialog."""
    header = tab.get_by_text("Aliases:", exact=False).first
    header.locator("xpath=..").get_by_role("button").first.click()
    dialog = tab.get_by_role("dialog")
    dialog.wait_for()
    box = dialog.get_by_role("combobox")
    box.fill(alias)
    box.press("Enter")
    return dialog


def main() -> None:  # pragma: no cover - `make screenshots`
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--version", default="1")
    args = parser.parse_args()
    project = Path.cwd()
    with ocrops_ui(project, project / "test-artifacts" / "ocrops-ui.log") as url:
        browser = launch()
        chromium = next(browser)
        tab = chromium.new_context(viewport=VIEWPORT).new_page()
        walk_to_version(tab, url, "ocrops", args.version, args.out)
        headline_table(tab)
        shot(tab, args.out, "mlflow-version-page.png")
        open_alias_dialog(tab, "champion")
        shot(tab, args.out, "mlflow-edit-alias.png")  # left unsaved: promoting is the user's decision
        tab.get_by_role("button", name="Cancel").click()
        browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":  # pragma: no cover
    main()
