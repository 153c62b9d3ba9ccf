"""Serving a glm-ocr model: batches bounded by a token budget, a hard cap on new tokens and a
repetition guard, so one long or looping output cannot hold a whole batch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from transformers import StoppingCriteria, StoppingCriteriaList

from ocrops.inference.types import Prediction

PATCH = 28  # 14-pixel patches merged 2x2: one image token per 28x28 pixels


def image_tokens(image: Image.Image) -> int:
    return max(1, -(-image.width // PATCH) * -(-image.height // PATCH))


def budget_batches(costs: Sequence[int], budget: int, max_new_tokens: int) -> list[list[int]]:
    """Indices grouped so each group's image tokens + new-token caps fit in ``budget`` (an item that alone
    exceeds it runs alone); similar sizes together."""
    order = sorted(range(len(costs)), key=costs.__getitem__)
    groups: list[list[int]] = []
    used = 0
    for i in order:
        cost = costs[i] + max_new_tokens
        if groups and used + cost <= budget:
            groups[-1].append(i)
            used += cost
        else:
            groups.append([i])
            used = cost
    return groups


class RepetitionGuard(StoppingCriteria):
    """Stops a sequence whose last tokens are one n-gram (n <= ``max_ngram``) repeated ``repeats`` times."""

    def __init__(self, prompt_length: int, max_ngram: int = 8, repeats: int = 4) -> None:
        self.prompt_length, self.max_ngram, self.repeats = prompt_length, max_ngram, repeats

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        new = input_ids[:, self.prompt_length:]
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for n in range(1, self.max_ngram + 1):
            span = n * self.repeats
            if new.shape[1] < span:
                break
            tail = new[:, -span:].reshape(new.shape[0], self.repeats, n)
            done |= (tail == tail[:, :1]).all(dim=2).all(dim=1)
        return done


class GlmOcrServingReader:
    """``predict`` like the model's, with the token budget, cap and guard of the model's settings."""

    def __init__(self, model, max_new_tokens: int | None = None, token_budget: int | None = None) -> None:
        self.model = model
        self.max_new_tokens = max_new_tokens or model.settings.max_new_tokens
        self.token_budget = token_budget or model.settings.token_budget

    @torch.no_grad()
    def predict(self, images: Sequence[Image.Image], batch_size: int = 8) -> list[Prediction]:
        m = self.model
        m.model.eval()
        tokenizer = m.processor.tokenizer
        prepared = m.prepare(images)
        groups = budget_batches([image_tokens(im) for im in prepared], self.token_budget, self.max_new_tokens)
        results: dict[int, Prediction] = {}
        for group in groups:
            for start in range(0, len(group), batch_size):
                chunk = group[start : start + batch_size]
                inputs = m._inputs([images[i] for i in chunk], [m.prompt] * len(chunk), padding_side="left")
                length = inputs["input_ids"].shape[1]
                out = m.model.generate(
                    **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, output_scores=True,
                    return_dict_in_generate=True, pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    stopping_criteria=StoppingCriteriaList([RepetitionGuard(length)]))
                new = out.sequences[:, length:]
                probs = torch.stack([s.float().softmax(-1).max(-1).values for s in out.scores], dim=1)
                for i, row, p in zip(chunk, new, probs, strict=True):
                    keep = (row != tokenizer.pad_token_id) & (row != tokenizer.eos_token_id)
                    text = tokenizer.decode(row[keep], skip_special_tokens=True).strip()
                    results[i] = Prediction(text, float(p[keep].mean()) if keep.any() else 0.0)
        return [results[i] for i in range(len(images))]
