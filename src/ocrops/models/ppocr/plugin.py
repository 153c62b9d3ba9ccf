"""The ppocr family's code: the PP-OCR presets from their wheels, their ONNX / TensorRT engines and line reader."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from ocrops.config import DEFAULT_BASE
from ocrops.inference.engines import OrtEngine, TorchEngine, cuda_provider_available
from ocrops.inference.lines import LineReader
from ocrops.inference.runtime import EXPORT_MANIFEST
from ocrops.inference.types import EngineUnavailable, Reader
from ocrops.inference.wheel_files import WheelFile
from ocrops.models.interface import Bench, BenchTarget, ModelFamily
from ocrops.models.ppocr.charset import load_charset, read_charset
from ocrops.models.ppocr.codec import CTCCodec
from ocrops.models.ppocr.preprocess import INT8_MAX_BATCH, batch_arrays
from ocrops.models.ppocr.presets import saved_preset


def _exported(engines_dir: Path, key: str) -> Path:
    manifest = engines_dir / EXPORT_MANIFEST
    files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {}) if manifest.exists() else {}
    name = files.get(key)
    if not name or not (engines_dir / name).exists():
        raise EngineUnavailable(f"no {key} engine was exported (run the export stage)")
    return engines_dir / name


class PPOCRFamily(ModelFamily):
    engines = ("tensorrt", "ort_cuda", "ort_fp32", "torch")
    serving_requirements = "requirements-serve.lock"  # ONNX Runtime serves; torch is the fallback of a full install

    def pretrained(self, base, settings=None):
        from ocrops.models.ppocr.model import pretrained_ppocr

        return pretrained_ppocr(base)

    def load(self, path):
        from ocrops.models.ppocr.model import PPOCRModel

        return PPOCRModel.load(path)

    def vocabulary(self, base: str | Path | None = None) -> frozenset[str]:
        """A preset's dictionary, or the characters a saved model reads."""
        if isinstance(base, Path):
            return frozenset(read_charset(base))
        return frozenset(load_charset(base or DEFAULT_BASE))

    def detector(self, model_dir: Path) -> WheelFile:
        return saved_preset(model_dir).detector

    def port_parity(self, base: str, images: Sequence[Image.Image], batch_size: int = 16) -> dict:
        """The PyTorch port against the released ONNX graph under ONNX Runtime, batch by batch."""
        import numpy as np

        from ocrops.models.ppocr.model import pretrained_ppocr
        from ocrops.models.ppocr.presets import preset

        model = pretrained_ppocr(base)
        codec = CTCCodec(model.charset)
        ours, released = TorchEngine(model.network), OrtEngine(preset(base).recognizer.locate(), name="released")
        same, worst = 0, 0.0
        for _, batch in LineReader(ours, codec, model.preprocess).batches(images, batch_size):
            a, b = ours.infer(batch), released.infer(batch)
            worst = max(worst, float(np.abs(a - b).max()))
            same += sum(x[0] == y[0] for x, y in zip(codec.decode(a), codec.decode(b), strict=True))
        return {"lines": len(images), "identical_share": same / max(1, len(images)), "max_prob_diff": worst}

    def export(self, model, model_dir, out, images, params, settings=None):
        from ocrops.models.ppocr.export import export

        return export(model, out, images, params)

    def exported_engine(self, engines_dir: Path, key: str, threads: int | None = None):
        """An engine the export stage wrote, by its name there (``ort_fp32``, ``ort_int8``, ``tensorrt_fp16``)."""
        if key == "tensorrt_fp16":
            from ocrops.inference.tensorrt import TensorRTEngine, availability

            ok, detail = availability()
            if not ok:
                raise EngineUnavailable(detail)
            return TensorRTEngine(_exported(engines_dir, key))
        return OrtEngine(_exported(engines_dir, key), name=key, threads=threads,
                         max_batch=INT8_MAX_BATCH if key == "ort_int8" else None)

    def serving_engine(self, model_dir: Path, engines_dir: Path, engine: str, threads: int | None = None,
                       tensorrt_cache: Path | None = None):
        """An engine by its serving name (``serve.engine``): the export stage's graphs by their names there
        (``ort_fp32``, ``ort_int8``: ONNX Runtime on the CPU), ``ort_cuda`` (the fp32 graph on ONNX Runtime's CUDA
        provider), ``tensorrt`` (built here from the fp32 ONNX graph), ``torch``."""
        if engine == "tensorrt":
            from ocrops.inference.tensorrt import TensorRTEngine, availability, build_engine

            ok, detail = availability()
            if not ok:
                raise EngineUnavailable(detail)
            # an engine only runs on the GPU and TensorRT version it was built for: build it (or reuse the cached
            # build keyed by ONNX digest + GPU + TensorRT version) on the serving machine
            plan, _ = build_engine(_exported(engines_dir, "onnx_fp32"), tensorrt_cache or Path(".cache/tensorrt"))
            return TensorRTEngine(plan)
        if engine == "ort_cuda" and not cuda_provider_available():
            raise EngineUnavailable("onnxruntime has no CUDAExecutionProvider here (pip install '.[gpu]')")
        if engine in ("ort_cuda", "ort_fp32", "ort_int8"):
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if engine == "ort_cuda" else \
                ["CPUExecutionProvider"]
            # a service shares the CPU with its API workers: threads waiting for the next batch must not spin
            int8 = engine == "ort_int8"
            return OrtEngine(_exported(engines_dir, "ort_int8" if int8 else "ort_fp32"), name=engine, threads=threads,
                             providers=providers, spinning=False, max_batch=INT8_MAX_BATCH if int8 else None)
        if engine == "torch":
            return TorchEngine(self.load(model_dir).network.fused(), threads=threads)
        raise EngineUnavailable(f"the ppocr family has no engine {engine!r}")

    def reader(self, model_dir: Path, engines_dir: Path, engine: str, threads: int | None = None) -> Reader:
        from ocrops.inference import preprocess

        engine_ = self.serving_engine(model_dir, engines_dir, engine, threads)
        return LineReader(engine_, CTCCodec(read_charset(model_dir)), preprocess.load(model_dir))

    def bench(self, model_dir: Path, engines_dir: Path, images: Sequence[Image.Image], batch_sizes: list[int],
              singles: int, threads: int | None = None) -> Bench:
        """The engines alone on prepared batches (preprocessing and decoding are the same for all)."""
        from ocrops.inference import preprocess

        engines = {"torch": self.serving_engine(model_dir, engines_dir, "torch", threads)}
        for name in ("ort_fp32", "ort_int8", "tensorrt_fp16"):
            try:
                engines[name] = self.exported_engine(engines_dir, name, threads)
            except EngineUnavailable:
                continue
        prep = LineReader(engines["torch"], CTCCodec(read_charset(model_dir)), preprocess.load(model_dir))
        prepared = {size: [array for _, array in prep.batches(images, size)] for size in batch_sizes}
        ones = [array for _, array in prep.batches(images[:singles], 1)]
        # an engine that reads one line at a time (max_batch 1) is timed as the reader uses it
        singly = [array for _, array in prep.batches(images, 1)]
        targets = {name: BenchTarget(engine.infer, (lambda _: singly) if getattr(engine, "max_batch", None) == 1
                                     else prepared.__getitem__, ones) for name, engine in engines.items()}
        if "ort_fp32" in engines:  # what batch invariance costs: the same engine on width-sorted, padded batches
            lines = sorted(prep.prepare(images), key=lambda im: im.width / max(im.height, 1))
            mixed = {size: [batch_arrays(lines[s : s + size]) for s in range(0, len(lines), size)]
                     for size in batch_sizes}
            targets["ort_fp32_mixed_widths"] = BenchTarget(engines["ort_fp32"].infer, mixed.__getitem__, ones)
        return Bench(targets, batch_sizes, headline=8)
