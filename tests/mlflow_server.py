"""A real `mlflow server` on 127.0.0.1 for tests that need HTTP (the UI's REST API, a server that dies)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from ocrops.harness.server import ServerProcess, free_port


class MlflowServer(ServerProcess):
    """``stop`` kills it outright, as a crash would; ``start`` again brings it back on the same port."""

    def __init__(self, store: Path, port: int | None = None) -> None:
        self.store = store
        port = port or free_port()
        cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
               "--artifacts-destination", str(store / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]
        super().__init__(cmd, port, "/health", {"MLFLOW_DISABLE_TELEMETRY": "true"}, store / "server.log",
                         timeout_s=90)

    @property
    def uri(self) -> str:
        return self.url

    def start(self) -> MlflowServer:
        self.store.mkdir(parents=True, exist_ok=True)
        super().start()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def __enter__(self) -> MlflowServer:
        return self.start()
