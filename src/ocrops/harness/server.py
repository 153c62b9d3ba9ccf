"""Start a real server as a child process and wait until it is ready: ``bentoml serve`` of a bento (the
package stage's check, the load test, the tests) or the plain FastAPI peer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ocrops.errors import ErrorCode, OcropsError

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``with ServerProcess(cmd, ready_path) as url:`` ... the process group is killed on exit."""

    def __init__(self, cmd: list[str], port: int, ready_path: str = "/readyz", env: dict[str, str] | None = None,
                 log_path: Path | None = None, timeout_s: float = 180) -> None:
        self.cmd, self.port, self.ready_path, self.timeout_s = cmd, port, ready_path, timeout_s
        self.env = os.environ | {"BENTOML_DO_NOT_TRACK": "true"} | (env or {})
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="ocrops-server-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def start(self, attempts: int = 3) -> str:
        """Start the server and wait until it is ready. BentoML's process manager picks free ports for its
        own sockets and binds them a moment later: a server starting beside it may take one first ("Address
        already in use"), so such an exit is retried, up to ``attempts`` starts."""
        begun = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = self.log_path.read_bytes()[begun:].decode("utf-8", errors="replace")
                if attempts > 1 and "Address already in use" in said:
                    return self.start(attempts - 1)
                raise OcropsError(ErrorCode.UNAVAILABLE,
                                  f"{self.cmd[0]} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                    if response.status == 200:
                        return self.url
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise OcropsError(ErrorCode.UNAVAILABLE,
                          f"{' '.join(self.cmd[:3])} not ready after {self.timeout_s:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def bento_server(target: str, port: int | None = None, env: dict[str, str] | None = None,
                 cwd_log: Path | None = None, timeout_s: float = 180) -> ServerProcess:
    """``bentoml serve TARGET`` (a bento tag, or bentos/service.py:OCR) on 127.0.0.1."""
    port = port or free_port()
    cmd = [str(BIN / "bentoml"), "serve", target, "--host", "127.0.0.1", "--port", str(port)]
    return ServerProcess(cmd, port, "/readyz", env, cwd_log, timeout_s)


def peer_server(model_root: Path, port: int | None = None, env: dict[str, str] | None = None,
                log_path: Path | None = None) -> ServerProcess:
    """The plain FastAPI single-request server around the same packaged model (the load test's peer)."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "ocrops.harness.peer", str(model_root), "--port", str(port)]
    return ServerProcess(cmd, port, "/healthz", env, log_path)
