"""The ``glm-ocr`` family: GlmOcrForConditionalGeneration with LoRA (peft) or a full fine-tune."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from PIL import Image
from safetensors.torch import load_file
from transformers import GlmOcrForConditionalGeneration

from ocrops.errors import ErrorCode, OcropsError
from ocrops.inference.types import Prediction
from ocrops.models.glm_ocr.processor import load_processor, prompt_text, save_processor
from ocrops.models.glm_ocr.settings import GlmOcrSettings
from ocrops.models.interface import OCRModel

SETTINGS_FILE = "ocrops_glm.json"
ADAPTER_DIR = "adapter"


def resolve_device(device: str) -> tuple[torch.device, torch.dtype]:
    """The device and dtype to run on: bf16 on a GPU that supports it, fp32 elsewhere."""
    if device == "cuda" and not torch.cuda.is_available():
        raise OcropsError(ErrorCode.UNAVAILABLE,
                          "CUDA was requested but this machine has no usable CUDA GPU; set the device to cpu or auto")
    if device in ("cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cpu"), torch.float32


def _checkpoint_dir(source: str | Path) -> Path:
    """A local checkpoint folder, or a hub id already in the local cache (never downloaded)."""
    path = Path(source)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise OcropsError(ErrorCode.UNAVAILABLE, f"{path} has no config.json: not a GLM-OCR checkpoint")
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(str(source), local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError) as exc:
        raise OcropsError(
            ErrorCode.UNAVAILABLE,
            f"GLM-OCR checkpoint {source!r} is neither a local folder nor in the local Hugging Face cache; "
            "download it where there is internet (huggingface-cli download zai-org/GLM-OCR) and pass its path",
        ) from exc


class GlmOcrModel(OCRModel):
    family = "glm-ocr"

    def __init__(self, model: torch.nn.Module, processor, settings: GlmOcrSettings, device: torch.device) -> None:
        self.model, self.processor, self.settings, self.device = model, processor, settings, device
        self.prompt = prompt_text(processor)

    @classmethod
    def from_checkpoint(cls, source: str | Path, settings: GlmOcrSettings | None = None,
                        trainable: bool = True) -> GlmOcrModel:
        settings = settings or GlmOcrSettings()
        device, dtype = resolve_device(settings.device)
        path = _checkpoint_dir(source)
        try:
            model = GlmOcrForConditionalGeneration.from_pretrained(str(path), dtype=dtype, local_files_only=True)
            processor = load_processor(path)
        except (OSError, ValueError) as exc:
            raise OcropsError(ErrorCode.UNAVAILABLE, f"cannot load GLM-OCR from {path}: {exc}") from exc
        model.to(device)
        if trainable and settings.lora:
            model = get_peft_model(model, LoraConfig(
                r=settings.lora_rank, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                target_modules=settings.target_modules, exclude_modules=r".*\.visual\..*",
            ))
        elif trainable and settings.freeze_vision:
            for name, param in model.named_parameters():
                param.requires_grad = ".visual." not in f".{name}"
        return cls(model, processor, settings, device)

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    def _inputs(self, images: Sequence[Image.Image], texts: Sequence[str], padding_side: str) -> dict:
        self.processor.tokenizer.padding_side = padding_side
        batch = self.processor(text=list(texts), images=self.prepare(images), padding=True, return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    @torch.no_grad()
    def predict(self, images: Sequence[Image.Image], batch_size: int = 8) -> list[Prediction]:
        self.model.eval()
        tokenizer = self.processor.tokenizer
        results: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            inputs = self._inputs(chunk, [self.prompt] * len(chunk), padding_side="left")
            out = self.model.generate(**inputs, max_new_tokens=self.settings.max_new_tokens, do_sample=False,
                                      output_scores=True, return_dict_in_generate=True,
                                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            new = out.sequences[:, inputs["input_ids"].shape[1]:]
            probs = torch.stack([s.float().softmax(-1).max(-1).values for s in out.scores], dim=1)
            for row, p in zip(new, probs, strict=True):
                keep = (row != tokenizer.pad_token_id) & (row != tokenizer.eos_token_id)
                text = tokenizer.decode(row[keep], skip_special_tokens=True)
                results.append(Prediction(text.strip(), float(p[keep].mean()) if keep.any() else 0.0))
        return results

    def loss(self, images: Sequence[Image.Image], texts: Sequence[str]) -> torch.Tensor:
        """Causal-LM loss on the answer tokens only (prompt, image and padding are masked)."""
        eos = self.processor.tokenizer.eos_token
        full = self._inputs(images, [self.prompt + t + eos for t in texts], padding_side="right")
        prompt_lengths = self._inputs(images, [self.prompt] * len(texts), padding_side="right")["attention_mask"].sum(1)
        labels = full["input_ids"].clone()
        positions = torch.arange(labels.shape[1], device=labels.device).unsqueeze(0)
        labels[positions < prompt_lengths.unsqueeze(1)] = -100
        labels[full["attention_mask"] == 0] = -100
        return self.forward_module(**full, labels=labels).loss

    def merged(self) -> torch.nn.Module:
        """A plain GlmOcrForConditionalGeneration with any LoRA adapter folded into its weights."""
        if isinstance(self.model, PeftModel):
            return copy.deepcopy(self.model).merge_and_unload()
        return self.model

    def save(self, path: str | Path) -> Path:
        """A self-contained checkpoint (merged weights, processor) plus the adapter for resuming."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.merged().save_pretrained(str(path))
        save_processor(self.processor, path)
        if isinstance(self.model, PeftModel):
            self.model.save_pretrained(str(path / ADAPTER_DIR))
        (path / SETTINGS_FILE).write_text(self.settings.model_dump_json(indent=1), encoding="utf-8")
        self.save_preprocess(path)
        self.mark_family(path)
        return path

    def restore(self, path: str | Path) -> None:
        path = Path(path)
        if isinstance(self.model, PeftModel):
            set_peft_model_state_dict(self.model, load_file(str(path / ADAPTER_DIR / "adapter_model.safetensors")))
        else:
            super().restore(path)

    @classmethod
    def load(cls, path: str | Path) -> GlmOcrModel:
        path = Path(path)
        settings = GlmOcrSettings.model_validate(json.loads((path / SETTINGS_FILE).read_text(encoding="utf-8")))
        model = cls.from_checkpoint(path, settings, trainable=False)
        model.load_preprocess(path)
        return model


def pretrained_glm_ocr(path: str | Path | None = None, settings: GlmOcrSettings | None = None) -> GlmOcrModel:
    if path is None:
        raise OcropsError(ErrorCode.UNAVAILABLE, "the glm-ocr family needs a checkpoint path (glm-ocr:PATH)")
    return GlmOcrModel.from_checkpoint(path, settings)

