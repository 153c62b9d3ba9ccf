"""The harness's server start: a server that loses a port to another starting beside it is started again."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ocrops.errors import OcropsError
from ocrops.harness.server import ServerProcess, free_port

# exits as BentoML's process manager does when a socket it picked was taken, until the marker file exists
SERVER = """
import http.server, pathlib, sys
marker, port, root = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if not marker.exists():
    print("zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:1')", flush=True)
    if marker.parent.exists():
        marker.write_text("tried")
    sys.exit(1)
handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=root, **k)
http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
"""


def _server(tmp_path: Path, marker: Path) -> ServerProcess:
    (tmp_path / "readyz").write_text("ok")
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    port = free_port()
    return ServerProcess([sys.executable, str(script), str(marker), str(port), str(tmp_path)], port,
                         log_path=tmp_path / "server.log", timeout_s=30)


def test_a_server_that_lost_a_port_is_started_again(tmp_path: Path):
    server = _server(tmp_path, tmp_path / "marker")
    with server as url:
        assert url.endswith(str(server.port))
    assert "Address already in use" in (tmp_path / "server.log").read_text()  # the first start failed


def test_a_server_that_keeps_failing_is_reported(tmp_path: Path):
    server = _server(tmp_path, tmp_path / "never" / "marker")  # the marker cannot be written: it fails each time
    with pytest.raises(OcropsError, match="exited with 1"):
        server.start()
    assert (tmp_path / "server.log").read_text().count("Address already in use") == 3  # three starts, no more
