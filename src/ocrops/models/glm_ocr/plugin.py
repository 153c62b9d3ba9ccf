"""The glm-ocr family's code: GLM-OCR checkpoints, its two-graph ONNX export and its serving reader."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from ocrops.inference.runtime import EXPORT_MANIFEST
from ocrops.inference.types import EngineUnavailable, Reader
from ocrops.models.interface import Bench, BenchTarget, ModelFamily


class GlmOcrFamily(ModelFamily):
    engines = ("torch",)  # the ONNX decoding loop runs batch 1; the budgeted torch reader serves

    def pretrained(self, base, settings=None):
        from ocrops.models.glm_ocr.model import pretrained_glm_ocr

        return pretrained_glm_ocr(base.removeprefix(self.record.prefix or ""), settings)

    def load(self, path):
        from ocrops.models.glm_ocr.model import GlmOcrModel

        return GlmOcrModel.load(path)

    def export(self, model, model_dir, out, images, params, settings=None):
        from ocrops.models.glm_ocr.export import export

        return export(model, model_dir, out, images, settings or model.settings)

    def reader(self, model_dir: Path, engines_dir: Path, engine: str, threads: int | None = None) -> Reader:
        """torch with the settings' token budget, new-token cap and repetition guard."""
        if engine != "torch":
            raise EngineUnavailable("the glm-ocr family serves with torch (its ONNX decoding loop runs batch 1)")
        if threads:
            import torch

            torch.set_num_threads(threads)
        from ocrops.models.glm_ocr.serving import GlmOcrServingReader

        return GlmOcrServingReader(self.load(model_dir))

    def bench(self, model_dir: Path, engines_dir: Path, images: Sequence[Image.Image], batch_sizes: list[int],
              singles: int, threads: int | None = None) -> Bench:
        """Whole readings (generation included) through torch and through the ONNX graphs, one line per call."""
        from ocrops.models.glm_ocr.export import GlmOcrOnnxReader, canonical

        manifest = json.loads((engines_dir / EXPORT_MANIFEST).read_text(encoding="utf-8"))
        size = tuple(manifest["image_size"])
        model = self.load(model_dir)
        onnx = GlmOcrOnnxReader(model, engines_dir / manifest["files"]["ort_vision"],
                                engines_dir / manifest["files"]["ort_decoder"], size)
        lines = [[canonical(im, size)] for im in images]
        targets = {"torch": BenchTarget(lambda batch: model.predict(batch, batch_size=1), lambda _: lines, lines),
                   "ort_fp32": BenchTarget(onnx.predict, lambda _: lines, lines)}
        return Bench(targets, [1], headline=1)
