"""ONNX export of the glm-ocr family: the decoder step with KV-cache inputs/outputs, the vision encoder at a
fixed image grid, and a greedy decoding loop over ONNX Runtime.

The decoder step is one graph for prefill (past length 0) and for every following token: it takes the
embedded sequence, GLM's 3-D (M-RoPE) positions, the attention mask and the past keys/values of every layer,
and returns the last position's logits and the present keys/values. It is exported with the dynamo exporter
(onnxscript); the vision encoder's patch layout depends on the image grid in Python, so it is traced for one
grid and images must be brought to that size first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ocrops.inference.types import Prediction
from ocrops.models.interface import Exported


class DecoderStep(torch.nn.Module):
    """(inputs_embeds, position_ids, attention_mask, *past k/v) -> (last logits, *present k/v)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.language_model, self.lm_head = model.model.language_model, model.lm_head
        self.layers = model.config.text_config.num_hidden_layers

    def forward(self, inputs_embeds, position_ids, attention_mask, *past):
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache = DynamicCache()
        cache.layers = []
        for i in range(self.layers):  # set, not concatenated onto the lazily created empty tensor
            layer = DynamicLayer()
            layer.lazy_initialization(past[2 * i], past[2 * i + 1])
            layer.keys, layer.values = past[2 * i], past[2 * i + 1]
            cache.layers.append(layer)
        out = self.language_model(inputs_embeds=inputs_embeds, position_ids=position_ids,
                                  attention_mask=attention_mask, past_key_values=cache, use_cache=True)
        present = [t for layer in cache.layers for t in (layer.keys, layer.values)]
        return (self.lm_head(out.last_hidden_state[:, -1:]), *present)


@dataclass(frozen=True)
class CacheShape:
    layers: int
    kv_heads: int
    head_dim: int

    @classmethod
    def of(cls, model: torch.nn.Module) -> CacheShape:
        cfg = model.config.text_config
        return cls(cfg.num_hidden_layers, cfg.num_key_value_heads,
                   getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)

    def names(self, prefix: str) -> list[str]:
        return [f"{prefix}_{i}_{kv}" for i in range(self.layers) for kv in ("key", "value")]

    def empty(self, batch: int = 1) -> list[np.ndarray]:
        return [np.zeros((batch, self.kv_heads, 0, self.head_dim), np.float32) for _ in range(2 * self.layers)]


def export_decoder(model: torch.nn.Module, path: Path, opset: int = 18) -> Path:
    """The decoder step with dynamic sequence and past lengths (batch 1)."""
    from torch.export import Dim

    model = model.float().eval()
    shape = CacheShape.of(model)
    hidden = model.config.text_config.hidden_size
    example = (torch.zeros(1, 2, hidden), torch.zeros(3, 1, 2, dtype=torch.long),
               torch.ones(1, 5, dtype=torch.long),
               *[torch.zeros(1, shape.kv_heads, 3, shape.head_dim) for _ in range(2 * shape.layers)])
    auto = Dim.AUTO
    dynamic = ({1: auto}, {2: auto}, {1: auto}, tuple({2: auto} for _ in range(2 * shape.layers)))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(DecoderStep(model), example, str(path), dynamo=True, opset_version=opset,
                      input_names=["inputs_embeds", "position_ids", "attention_mask", *shape.names("past")],
                      output_names=["logits", *shape.names("present")], dynamic_shapes=dynamic)
    return path


class _Vision(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, grid_thw: torch.Tensor) -> None:
        super().__init__()
        self.visual, self.grid = model.model.visual, grid_thw

    def forward(self, pixel_values):
        return self.visual(pixel_values, grid_thw=self.grid).pooler_output


def export_vision(model: torch.nn.Module, pixel_values: torch.Tensor, grid_thw: torch.Tensor, path: Path,
                  opset: int = 17) -> Path:
    """The vision encoder for one image grid (traced): patches (N, C*T*P*P) -> image tokens (N/4, hidden)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(_Vision(model.float().eval(), grid_thw), (pixel_values.float(),), str(path),
                          input_names=["pixel_values"], output_names=["image_embeds"], opset_version=opset,
                          dynamo=False)
    return path


def prompt_inputs(model: torch.nn.Module, inputs: dict, image_embeds: torch.Tensor | None = None) -> dict:
    """Embedded prompt (image tokens replaced by the image's embeddings), 3-D positions and mask, as numpy."""
    with torch.no_grad():
        ids = inputs["input_ids"]
        embeds = model.model.get_input_embeddings()(ids)
        if image_embeds is None:
            image_embeds = torch.cat(model.model.get_image_features(inputs["pixel_values"],
                                                                    inputs["image_grid_thw"]).pooler_output)
        slots = (ids == model.config.image_token_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(slots, image_embeds.to(embeds.dtype))
        positions, _ = model.model.get_rope_index(ids, inputs["mm_token_type_ids"], inputs["image_grid_thw"], None,
                                                  attention_mask=inputs["attention_mask"])
    return {"inputs_embeds": embeds.float().numpy(), "position_ids": positions.numpy().astype(np.int64),
            "attention_mask": inputs["attention_mask"].numpy().astype(np.int64)}


class OnnxGreedyDecoder:
    """Greedy decoding with the exported decoder step in ONNX Runtime (batch 1)."""

    def __init__(self, decoder: Path, embedding_table: np.ndarray, shape: CacheShape, eos_token_id: int) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(decoder), providers=["CPUExecutionProvider"])
        self.table, self.shape, self.eos = embedding_table, shape, eos_token_id

    def generate(self, prompt: dict, max_new_tokens: int) -> tuple[list[int], list[float]]:
        """Token ids and their probabilities; stops at end-of-text or after ``max_new_tokens``."""
        past_names = self.shape.names("past")
        feed = dict(prompt) | dict(zip(past_names, self.shape.empty(), strict=True))
        length, last = prompt["attention_mask"].shape[1], int(prompt["position_ids"].max())
        tokens, probs = [], []
        for step in range(max_new_tokens):
            logits, *present = self.session.run(None, feed)
            row = logits[0, -1].astype(np.float64)
            token = int(row.argmax())
            soft = np.exp(row - row.max())
            tokens.append(token)
            probs.append(float(soft[token] / soft.sum()))
            if token == self.eos:
                break
            position = np.full((3, 1, 1), last + 1 + step, dtype=np.int64)  # text tokens advance all 3 axes
            feed = {"inputs_embeds": self.table[[token]][None].astype(np.float32), "position_ids": position,
                    "attention_mask": np.ones((1, length + step + 1), dtype=np.int64),
                    **dict(zip(past_names, present, strict=True))}
        return tokens, probs


def canonical(image, size: tuple[int, int]):
    """Lines brought to one size, so every image has the grid the vision graph was traced for."""
    from PIL import Image

    return image.convert("RGB").resize(size, Image.Resampling.BILINEAR)


class GlmOcrOnnxReader:
    """Line images -> texts through the two ONNX graphs (vision, decoder step) in ONNX Runtime.

    Tokenising, the image processor and GLM's rope index stay host-side (the model's processor and config).
    """

    def __init__(self, model, vision: Path, decoder: Path, size: tuple[int, int]) -> None:
        import onnxruntime as ort

        self.model, self.size = model, tuple(size)
        net = model.model.float().eval()
        self.vision = ort.InferenceSession(str(vision), providers=["CPUExecutionProvider"])
        table = net.model.get_input_embeddings().weight.detach().float().numpy()
        self.loop = OnnxGreedyDecoder(decoder, table, CacheShape.of(net), net.generation_config.eos_token_id)
        self.tokenizer = model.processor.tokenizer

    def predict(self, images, batch_size: int = 1):
        results = []
        skip = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        for image in self.model.prepare(images):
            inputs = self.model._inputs([canonical(image, self.size)], [self.model.prompt], padding_side="left")
            embeds = self.vision.run(None, {"pixel_values": inputs["pixel_values"].float().numpy()})[0]
            prompt = prompt_inputs(self.model.model, inputs, torch.from_numpy(embeds))
            tokens, probs = self.loop.generate(prompt, self.model.settings.max_new_tokens)
            kept = [(t, p) for t, p in zip(tokens, probs, strict=True) if t not in skip]
            text = self.tokenizer.decode([t for t, _ in kept], skip_special_tokens=True).strip()
            results.append(Prediction(text, float(np.mean([p for _, p in kept])) if kept else 0.0))
        return results


def export_glm_ocr(model, out: Path, size: tuple[int, int], example) -> dict[str, str]:
    """Both graphs for ``model`` (a GlmOcrModel) with the vision grid of ``size``; returns the files."""
    inputs = model._inputs([canonical(example, size)], [model.prompt], padding_side="left")
    export_vision(model.model, inputs["pixel_values"], inputs["image_grid_thw"], out / "vision.onnx")
    export_decoder(model.model, out / "decoder.onnx")
    return {"ort_vision": "vision.onnx", "ort_decoder": "decoder.onnx"}


def export(model, model_dir: Path, out: Path, images, settings) -> Exported:
    """The family's exporter: both graphs at ``settings.export_size``, a copy of the model (processor, tokenizer
    and config the ONNX reader needs), and the ONNX reader checked against the torch model reading the same
    resized lines."""
    import shutil

    size = tuple(settings.export_size)
    out.mkdir(parents=True, exist_ok=True)
    files = export_glm_ocr(model, out, size, images[0])
    shutil.copytree(model_dir, out / "model")
    reference = model.predict([canonical(im, size) for im in images], batch_size=1)
    reader = GlmOcrOnnxReader(model, out / files["ort_vision"], out / files["ort_decoder"], size)
    return Exported(files=files | {"model": "model"}, readers={"ort_fp32": reader}, reference=reference,
                    manifest={"image_size": list(size)},
                    skipped={"ort_int8": "the glm-ocr graphs are exported in fp32 only",
                             "tensorrt_fp16": "the glm-ocr family builds no TensorRT engine"})
