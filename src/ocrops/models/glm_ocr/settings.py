"""The glm-ocr family's settings: the ``glm_ocr`` section of params.yaml, saved with every trained model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GlmOcrSettings(BaseModel):
    """Fine-tuning, serving and export settings; defaults follow the official GLM-OCR recipe (LoRA rank 8 on
    all linear layers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lora: bool = Field(True, description="false = full fine-tune (vision tower frozen when freeze_vision)")
    lora_rank: int = Field(8, ge=1)
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"
    freeze_vision: bool = Field(True, description="for a full fine-tune (lora: false)")
    max_new_tokens: int = Field(128, ge=1, description="hard cap of generated tokens per line")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="bf16 on a GPU that supports it")
    token_budget: int = Field(8192, ge=256, description="serving: image + new tokens per batch")
    export_size: tuple[int, int] = Field((448, 56), description="export: lines resized to this (width, height); "
                                                                "the vision graph is traced for its grid")
