"""A tiny random-weight GLM-OCR, built offline: proves the code path, never a model to use.

Tokenizer: byte-level BPE trained on the given texts, holding GLM's special
tokens; config ids point at them. Text rotary: partial factor 0.5 with M-RoPE
sections adding up to a quarter of the head dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GlmOcrConfig, GlmOcrForConditionalGeneration, PreTrainedTokenizerFast
from transformers.models.glm46v.image_processing_pil_glm46v import Glm46VImageProcessorPil

from ocrops.models.glm_ocr.processor import CHAT_TEMPLATE, build_processor, save_processor

SPECIAL_TOKENS = [
    "<|endoftext|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>",
    "<|begin_of_image|>", "<|image|>", "<|end_of_image|>",
    "<|begin_of_video|>", "<|video|>", "<|end_of_video|>", "<|pad|>",
]


def build_tokenizer(texts: Sequence[str], vocab_size: int = 800) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(list(texts), trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|pad|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_glm_ocr(path: str | Path, texts: Sequence[str], seed: int = 0, hidden: int = 64) -> Path:
    """Write a tiny GLM-OCR checkpoint (config, random weights, tokenizer, image processor) to ``path``."""
    path = Path(path)
    tokenizer = build_tokenizer(texts)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    heads = 4
    quarter = hidden // heads // 4
    config = GlmOcrConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": hidden, "intermediate_size": 2 * hidden,
            "num_hidden_layers": 2, "num_attention_heads": heads, "num_key_value_heads": 2,
            "max_position_embeddings": 4096, "pad_token_id": ids["<|pad|>"],
            "eos_token_id": ids["<|endoftext|>"],
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                                "mrope_section": [quarter - 2 * (quarter // 4), quarter // 4, quarter // 4]},
        },
        vision_config={"depth": 2, "hidden_size": hidden, "intermediate_size": 2 * hidden, "num_heads": heads,
                       "out_hidden_size": hidden, "patch_size": 14, "spatial_merge_size": 2,
                       "temporal_patch_size": 2},
        image_token_id=ids["<|image|>"], video_token_id=ids["<|video|>"],
        image_start_token_id=ids["<|begin_of_image|>"], image_end_token_id=ids["<|end_of_image|>"],
        video_start_token_id=ids["<|begin_of_video|>"], video_end_token_id=ids["<|end_of_video|>"],
    )
    config.eos_token_id = ids["<|endoftext|>"]
    config.pad_token_id = ids["<|pad|>"]
    torch.manual_seed(seed)
    model = GlmOcrForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|endoftext|>"]
    model.generation_config.pad_token_id = ids["<|pad|>"]
    model.save_pretrained(str(path))
    # Line images are small: cap the pixels so a line becomes a few dozen vision tokens.
    image_processor = Glm46VImageProcessorPil(size={"shortest_edge": 28 * 28, "longest_edge": 28 * 28 * 48})
    save_processor(build_processor(tokenizer, image_processor), path)
    return path


def one_step(model, images: Sequence, texts: Sequence[str], lr: float = 1e-3) -> tuple[float, float]:
    """One AdamW step of ``model`` (a GlmOcrModel) on a fixed batch: the loss before and after it, which proves
    the training path moves the weights (the unit tests on the CPU, ``ocrops gpu-check`` in bf16 on a GPU)."""
    model.train_mode()
    optimizer = torch.optim.AdamW([p for p in model.module.parameters() if p.requires_grad], lr=lr)
    before = model.loss(images, texts)
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = model.loss(images, texts)
    return before.item(), after.item()
