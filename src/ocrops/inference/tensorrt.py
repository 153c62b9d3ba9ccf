"""TensorRT engines: built from the exported ONNX with the tensorrt Python API (FP16, optimisation profiles).

An engine only runs on the GPU model and TensorRT version it was built with, so the cache key holds the
ONNX digest, the GPU name and the TensorRT version; an engine whose recorded build facts differ from this
machine's is rebuilt, never loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ocrops.data.split import content_hash


@dataclass(frozen=True)
class Profile:
    """Shapes of the recognizer input (N, 3, 48, W) the engine is optimised for."""

    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 32
    min_width: int = 16
    opt_width: int = 320
    max_width: int = 1600
    height: int = 48

    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        h = self.height
        return ((self.min_batch, 3, h, self.min_width), (self.opt_batch, 3, h, self.opt_width),
                (self.max_batch, 3, h, self.max_width))


@dataclass(frozen=True)
class BuildFacts:
    onnx_sha256: str
    gpu: str
    tensorrt: str
    fp16: bool
    profile: Profile

    def key(self) -> str:
        payload = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:20]


def availability() -> tuple[bool, str]:
    """(True, description) where tensorrt imports and a CUDA GPU is visible; else (False, the reason)."""
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        return False, f"tensorrt is not installed ({exc.msg}); install the 'gpu' extra on a CUDA machine"
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU visible (torch.cuda.is_available() is False)"
    return True, torch.cuda.get_device_name(0)


def build_facts(onnx_path: Path, fp16: bool, profile: Profile) -> BuildFacts:
    import tensorrt as trt
    import torch

    return BuildFacts(content_hash(onnx_path), torch.cuda.get_device_name(0), trt.__version__, fp16, profile)


def cached_engine(cache_dir: Path, facts: BuildFacts) -> Path | None:
    """The cached engine for exactly these build facts, or None (mismatched or missing caches are ignored)."""
    engine, meta = cache_dir / f"{facts.key()}.engine", cache_dir / f"{facts.key()}.json"
    if not engine.exists() or not meta.exists():
        return None
    recorded = json.loads(meta.read_text(encoding="utf-8"))
    return engine if recorded == json.loads(json.dumps(asdict(facts))) else None


def build_engine(onnx_path: Path, cache_dir: Path, fp16: bool = True, profile: Profile = Profile(),
                 workspace_gb: float = 2.0) -> tuple[Path, bool]:
    """Build (or reuse) a serialized engine; returns (path, built_now)."""
    import tensorrt as trt

    facts = build_facts(onnx_path, fp16, profile)
    if (hit := cached_engine(cache_dir, facts)) is not None:
        return hit, False
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if fp16 and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    optimisation = builder.create_optimization_profile()
    optimisation.set_shape(network.get_input(0).name, *profile.shapes())
    config.add_optimization_profile(optimisation)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    engine = cache_dir / f"{facts.key()}.engine"
    tmp = engine.with_suffix(".engine.tmp")
    tmp.write_bytes(bytes(serialized))
    tmp.replace(engine)
    (cache_dir / f"{facts.key()}.json").write_text(json.dumps(asdict(facts), indent=1) + "\n", encoding="utf-8")
    return engine, True


class TensorRTEngine:
    """Runs a serialized engine with torch CUDA tensors as I/O buffers (no pycuda needed)."""

    name = "tensorrt_fp16"

    def __init__(self, engine_path: Path) -> None:
        import tensorrt as trt
        import torch

        self._torch = torch
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise RuntimeError(f"{engine_path} does not deserialize on this GPU / TensorRT version")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)

    def infer(self, batch):
        torch = self._torch
        x = torch.from_numpy(batch).cuda().contiguous()
        self.context.set_input_shape(self.input, tuple(x.shape))
        shape = tuple(self.context.get_tensor_shape(self.output))
        y = torch.empty(shape, dtype=torch.float32, device="cuda")
        self.context.set_tensor_address(self.input, x.data_ptr())
        self.context.set_tensor_address(self.output, y.data_ptr())
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        stream.synchronize()
        return y.cpu().numpy()
