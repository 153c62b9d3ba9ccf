"""What every command module shares: the consoles, the --params option, failing with a code, exec."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class ReadMode(StrEnum):
    auto = "auto"
    line = "line"
    page = "page"


ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="params.yaml to read")]


def print_lines(lines: list[str]) -> None:
    for line in lines:
        console.print(escape(line))


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print the error and return the exit to raise (``raise fail(...)``)."""
    err.print(f"[bold red]error[/] {escape(message)}")  # plain text: 'ocrops[spark]' is not a style
    return typer.Exit(code)


def fresh(out: Path, overwrite: bool) -> None:
    import shutil

    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise fail(f"{out} is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)


def become(cmd: list[str], env: dict[str, str]) -> None:
    """Replace this process with ``cmd``: signals from a process manager, ``timeout`` or Ctrl+C reach the server
    itself, and no server is left behind when ``ocrops`` is stopped."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)
