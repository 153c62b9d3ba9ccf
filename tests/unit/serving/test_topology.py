"""Which topology a server takes, and who counts as a server."""

from __future__ import annotations

import pytest

from ocrops.serving import topology
from ocrops.serving.topology import choose_topology, engine_calls, serving_process


@pytest.fixture
def gpu(tmp_path, monkeypatch):
    """A driver folder listing one device (the real one is absent here)."""
    (tmp_path / "0000:00:1e.0").mkdir()
    monkeypatch.setattr(topology, "NVIDIA_GPUS", tmp_path)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_auto_is_one_process_without_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(topology, "NVIDIA_GPUS", tmp_path / "absent")
    assert choose_topology("auto") == "one"


def test_auto_is_two_services_with_a_gpu_unless_it_is_hidden(gpu, monkeypatch):
    assert choose_topology("auto") == "two"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert choose_topology("auto") == "one"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert choose_topology("auto") == "one"


def test_an_explicit_choice_wins_and_a_wrong_one_is_refused(gpu):
    assert choose_topology("one") == "one" and choose_topology("two") == "two"
    with pytest.raises(ValueError, match="auto, one or two"):
        choose_topology("three")


@pytest.mark.parametrize("argv, serving", [
    (["/venv/bin/bentoml", "serve", "ocrops:latest"], True),
    (["/venv/lib/python3.11/site-packages/_bentoml_impl/worker/service.py", "ocrops:x", "--fd", "3"], True),
    (["/venv/lib/python3.11/site-packages/bentoml/__main__.py", "serve", "ocrops:x"], True),
    (["/venv/bin/bentoml", "build", "bentos"], False),
    (["/venv/bin/bentoml", "containerize", "ocrops:x"], False),
    (["/venv/bin/ocrops", "stage", "package"], False),
    (["/venv/bin/pytest", "tests"], False),
])
def test_only_a_server_leaves_the_recognizer_service_out(argv, serving):
    assert serving_process(argv) is serving


def test_engine_calls_default_to_one_more_than_the_cores():
    import os

    assert engine_calls(0) == len(os.sched_getaffinity(0)) + 1
    assert engine_calls(5) == 5
