"""The glm-ocr family: GLM-OCR (transformers' GlmOcrForConditionalGeneration) fine-tuned with LoRA or fully,
prompt ``Text Recognition:``. Needs a local checkpoint (train.base: glm-ocr:PATH); runs on a GPU (bf16), on a
CPU only for tests with the tiny random-weight config."""

from ocrops.families import Family

family = Family(
    name="glm-ocr",
    implementation="ocrops.models.glm_ocr.plugin:GlmOcrFamily",
    prefix="glm-ocr:",
    section="glm_ocr",
    settings="ocrops.models.glm_ocr.settings:GlmOcrSettings",
    runtime_packages=("transformers", "peft", "tokenizers", "accelerate"),
    description="GLM-OCR, LoRA or full fine-tune; GPU (bf16)",
)
