"""GLM-OCR's processor, built and saved without the hub and without torchvision.

transformers' processor checks every sub-processor's class; the video processor
needs torchvision, which is absent on CPU machines. OCR needs no video, so a
small subclass lets a missing sub-processor through. ``save_pretrained`` of the
processor fails without it too, so tokenizer and image processor are saved and
loaded separately.
"""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase
from transformers.models.glm46v.image_processing_pil_glm46v import Glm46VImageProcessorPil
from transformers.models.glm46v.processing_glm46v import Glm46VProcessor

PROMPT = "Text Recognition:"
TOKENIZER_DIR = "tokenizer"
IMAGE_PROCESSOR_DIR = "image_processor"

# The image comes before the prompt, as in GLM-OCR's own template.
CHAT_TEMPLATE = (
    "[gMASK]<sop>{% for m in messages %}<|{{ m['role'] }}|>"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<|begin_of_image|><|image|><|end_of_image|>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


class OfflineGlmOcrProcessor(Glm46VProcessor):
    """Glm46VProcessor that accepts a missing (video) sub-processor."""

    def check_argument_for_proper_class(self, argument_name, argument):
        if argument is None:
            return None
        return super().check_argument_for_proper_class(argument_name, argument)


def build_processor(
    tokenizer: PreTrainedTokenizerBase, image_processor: Glm46VImageProcessorPil
) -> OfflineGlmOcrProcessor:
    template = getattr(tokenizer, "chat_template", None) or CHAT_TEMPLATE
    return OfflineGlmOcrProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                                  chat_template=template)


def load_processor(path: str | Path) -> OfflineGlmOcrProcessor:
    """From an ocrops-saved folder (tokenizer/ + image_processor/) or a GLM-OCR checkpoint folder."""
    path = Path(path)
    tok_dir = path / TOKENIZER_DIR if (path / TOKENIZER_DIR).exists() else path
    img_dir = path / IMAGE_PROCESSOR_DIR if (path / IMAGE_PROCESSOR_DIR).exists() else path
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
    image_processor = Glm46VImageProcessorPil.from_pretrained(str(img_dir), local_files_only=True)
    return build_processor(tokenizer, image_processor)


def save_processor(processor: OfflineGlmOcrProcessor, path: str | Path) -> None:
    path = Path(path)
    processor.tokenizer.save_pretrained(str(path / TOKENIZER_DIR))
    processor.image_processor.save_pretrained(str(path / IMAGE_PROCESSOR_DIR))


def prompt_text(processor: OfflineGlmOcrProcessor) -> str:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
