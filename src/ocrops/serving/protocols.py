"""Wire formats besides /ocr: OpenAI chat completions and the glmocr SDK's layout-parsing protocol."""

from __future__ import annotations

import time
from typing import Any

from ocrops.errors import ErrorCode, OcropsError
from ocrops.inference.pages import bbox

PROMPT = "Text Recognition:"  # GLM-OCR's task prompt; the only task this service performs


def chat_image(messages: list[dict[str, Any]]) -> str:
    """The data URI of the (single) image in the last user message; 4002 for anything else."""
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise OcropsError(ErrorCode.INVALID_INPUT, "messages need a user message with an image")
    content = users[-1].get("content")
    parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
    images, texts = [], []
    for part in parts:
        if not isinstance(part, dict):
            raise OcropsError(ErrorCode.INVALID_INPUT, "message content parts must be objects")
        if part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            images.append(url)
        elif part.get("type") == "text":
            texts.append(str(part.get("text") or "").strip())
    if len(images) != 1 or not isinstance(images[0], str):
        raise OcropsError(ErrorCode.INVALID_INPUT, "send exactly one image_url part (a data: URI)")
    if not images[0].startswith("data:"):
        raise OcropsError(ErrorCode.INVALID_INPUT,
                          "image_url must be a data: URI; this service does not fetch remote URLs")
    prompt = " ".join(t for t in texts if t)
    if prompt and prompt != PROMPT:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"unsupported prompt {prompt[:40]!r}; use {PROMPT!r}")
    return images[0]


def check_chat_options(n: int | None, max_tokens: int | None, temperature: float | None) -> None:
    """OpenAI's sampling fields, held to their ranges (4002): one reading per image, so ``n`` is 1; the rest are
    accepted for compatibility and do not change what is read."""
    if n is not None and n != 1:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"n={n}: this service returns one choice (its reading); send n=1")
    if max_tokens is not None and max_tokens < 1:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"max_tokens={max_tokens}: must be at least 1")
    if temperature is not None and not 0 <= temperature <= 2:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"temperature={temperature:g}: must be between 0 and 2")


def chat_completion(text: str, model: str, request_id: str) -> dict:
    return {
        "id": f"chatcmpl-{request_id}", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(text), "total_tokens": len(text)},
    }


def layout_parsing(pages: list[tuple[dict, int, int]], model: str, request_id: str) -> dict:
    """The response the glmocr SDK's MaaS client reads: per page (its result, width, height) one ``text``
    region per line, boxes in that page's pixels (the SDK normalises them with ``data_info.pages``)."""
    details = [[{"index": i, "label": "text", "native_label": "text", "content": line["text"],
                 "bbox_2d": bbox(line["box"])} for i, line in enumerate(result["lines"])] for result, _, _ in pages]
    contents = [r["content"] for regions in details for r in regions]
    return {
        "id": request_id, "created": int(time.time()), "model": model,
        "md_results": "\n\n".join(contents),
        "layout_details": details,
        "data_info": {"num_pages": len(pages), "pages": [{"width": w, "height": h} for _, w, h in pages]},
        "usage": {"prompt_tokens": 0, "completion_tokens": sum(len(c) for c in contents)},
        "request_id": request_id,
    }
