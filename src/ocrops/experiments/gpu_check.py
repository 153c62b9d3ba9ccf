"""``make gpu-check``: every GPU path of the project run once, offline, within a few minutes, on a machine with an
NVIDIA GPU; on a machine without one, or without a package a check needs, each check is recorded as skipped with
its reason. The report (reports/gpu-check.json) says what ran, what passed and what each one measured.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ocrops.evaluation.bench import machine_info
from ocrops.inference.runtime import EXPORT_MANIFEST

LINES = ["Hemoglobin 135 g/L", "Creatinine 88 umol/L", "Glucose 5.4 mmol/L", "Sodium 141 mmol/L",
         "Potassium 4.1 mmol/L", "ALT 23 U/L", "Albumin 45.5 g/L", "Urea 5.2 mmol/L"]


class Skip(Exception):
    """A check that cannot run here; the message says why."""


def line_images(n: int = 32) -> list[Image.Image]:
    """Rendered test lines (PIL's own font: no system fonts needed)."""
    font = ImageFont.load_default(size=22)
    images = []
    for i in range(n):
        text = LINES[i % len(LINES)]
        image = Image.new("RGB", (16 + 12 * len(text), 40), (245, 245, 240))
        ImageDraw.Draw(image).text((8, 8), text, fill=(20, 20, 20), font=font)
        images.append(image)
    return images


def cuda() -> str:
    """The GPU's name; Skip when torch or a CUDA GPU is missing."""
    try:
        import torch
    except ImportError as exc:
        raise Skip(f"torch is not installed ({exc})") from None
    if not torch.cuda.is_available():
        build = f"torch {torch.__version__}, CUDA {torch.version.cuda or 'none (a CPU build)'}"
        raise Skip(f"no CUDA GPU: torch.cuda.is_available() is False ({build})")
    return torch.cuda.get_device_name(0)


def torch_cuda(work: Path) -> dict:
    import torch

    name = cuda()
    x = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(20):
        x @ x
    torch.cuda.synchronize()
    tflops = 20 * 2 * 4096**3 / (time.perf_counter() - started) / 1e12
    return {"device": name, "capability": list(torch.cuda.get_device_capability(0)), "cuda": torch.version.cuda,
            "bf16": torch.cuda.is_bf16_supported(), "bf16_matmul_tflops": round(tflops, 1)}


def _exported_ppocr(work: Path) -> tuple[Path, Path]:
    """The default base, pretrained, exported by its family into ``work`` (once per run): (model dir, engines dir)."""
    if (work / "ppocr" / "engines" / EXPORT_MANIFEST).exists():
        return work / "ppocr" / "mlflow" / "model", work / "ppocr" / "engines"
    try:
        from ocrops.config import ExportParams
        from ocrops.experiments.pretrained_bento import export_pretrained
    except ImportError as exc:
        raise Skip(f"exporting needs the pipeline extra ({exc})") from None
    return export_pretrained(work / "ppocr", ExportParams(int8=False))


def _parity(engine: str, work: Path, min_share: float) -> dict:
    """The exported recognizer on ``engine`` against ONNX Runtime on the CPU, over rendered lines: at least
    ``min_share`` of them read the same."""
    from ocrops.config import DEFAULT_BASE
    from ocrops.families import for_base
    from ocrops.inference.types import EngineUnavailable

    model_dir, engines = _exported_ppocr(work)
    family = for_base(DEFAULT_BASE).code()
    try:
        reader = family.reader(model_dir, engines, engine)
    except EngineUnavailable as exc:
        raise Skip(str(exc)) from None
    reference = family.reader(model_dir, engines, "ort_fp32")
    images = line_images()
    started = time.perf_counter()
    got = reader.predict(images, batch_size=8)
    seconds = time.perf_counter() - started
    want = reference.predict(images, batch_size=8)
    same = sum(a.text == b.text for a, b in zip(got, want, strict=True))
    if same < min_share * len(images):
        raise AssertionError(f"{engine} read {len(images) - same} of {len(images)} lines differently from ort_fp32")
    return {"lines": len(images), "identical_to_ort_fp32": same, "lines_per_s": round(len(images) / seconds, 1)}


def ort_cuda_parity(work: Path) -> dict:
    from ocrops.inference.engines import cuda_provider_available

    if not cuda_provider_available():
        raise Skip("onnxruntime has no CUDAExecutionProvider here (onnxruntime-gpu is the 'gpu' extra)")
    from ocrops.config import ExportParams

    return _parity("ort_cuda", work, ExportParams().min_identical)  # fp32 on both: the export stage's rule


def tensorrt(work: Path) -> dict:
    from ocrops.inference.tensorrt import availability

    ok, detail = availability()
    if not ok:
        raise Skip(detail)
    return _parity("tensorrt", work, 0.9)  # an FP16 engine: a tenth of clean lines may differ by a character


def bf16_lora_step(work: Path) -> dict:
    """One LoRA step in bf16 on the tiny random-weight GLM-OCR: the loss on the same batch goes down."""
    cuda()
    import torch

    try:
        from ocrops.models.glm_ocr.model import GlmOcrModel, GlmOcrSettings
        from ocrops.models.glm_ocr.tiny import build_tiny_glm_ocr, one_step
    except ImportError as exc:
        raise Skip(f"the glm-ocr family needs transformers and peft ({exc})") from None
    checkpoint = build_tiny_glm_ocr(work / "tiny-glm-ocr", LINES * 20)
    torch.manual_seed(0)
    model = GlmOcrModel.from_checkpoint(checkpoint, GlmOcrSettings(max_new_tokens=6, device="cuda"))
    before, after = one_step(model, line_images(len(LINES)), LINES)
    if not after < before:
        raise AssertionError(f"the loss did not go down: {before:.4f} -> {after:.4f}")
    return {"dtype": str(next(model.module.parameters()).dtype), "loss_before": round(before, 4),
            "loss_after": round(after, 4)}


def ppocr_train_cuda(work: Path) -> dict:
    """The train stage's trainer (FineTuner) on the pretrained default base for a few epochs on the GPU."""
    return {"device_name": cuda(), **ppocr_train_steps(work, "cuda")}


def ppocr_train_steps(work: Path, device: str, epochs: int = 3) -> dict:
    """FineTuner over 24 rendered lines (8 validation lines) on ``device``: the loss on those 24 lines (the model
    in eval mode, before and after) must fall. The lines are blurred so that the base has something to learn
    (PP-OCRv6 reads the clean ones perfectly; the per-epoch train loss is noise then)."""
    import torch
    from PIL import ImageFilter

    from ocrops.config import DEFAULT_BASE, TrainParams
    from ocrops.data.lines import Line, LineDataset
    from ocrops.models import pretrained
    from ocrops.training.trainer import FineTuner

    lines = []
    for i, image in enumerate(line_images(32)):
        # blurred: a base that reads the clean lines perfectly (PP-OCRv6) has something left to learn on them
        image.filter(ImageFilter.GaussianBlur(2.2)).save(work / f"train-line{i}.png")
        lines.append(Line(str(work / f"train-line{i}.png"), LINES[i % len(LINES)]))
    train = LineDataset(lines[:24], "train")
    images = [train.image(i) for i in range(len(train))]

    def fit_loss(model) -> float:
        model.eval_mode()
        with torch.no_grad():
            return float(model.loss(images, train.texts()))

    model = pretrained(DEFAULT_BASE)
    before = fit_loss(model)
    settings = TrainParams(epochs=epochs, batch_size=8, device=device, augment=0, general_ratio=0, patience=epochs,
                           backbone_lr_scale=0.1)  # as params.yaml trains the default base
    adapter = FineTuner(model, train, LineDataset(lines[24:], "val"), settings=settings, progress=False)
    result = adapter.train()
    after = fit_loss(adapter.model)
    if result.device != device:
        raise AssertionError(f"trained on {result.device}, not {device}")
    if not after < before:
        raise AssertionError(f"the loss on the training lines did not fall over {epochs} epochs: {before:.4f} -> "
                             f"{after:.4f}")
    return {"device": result.device, "fit_loss_before": round(before, 4), "fit_loss_after": round(after, 4),
            "train_loss": [round(h.train_loss, 4) for h in result.history],
            "val_cer": [round(h.val_cer, 4) for h in result.history],
            "lines_per_s": round(result.history[-1].lines_per_s, 1)}


def bento_two_services(work: Path) -> dict:
    """The pretrained model's Bento served on the GPU (topology auto: two services), batching on vs off."""
    cuda()
    os.environ.setdefault("BENTOML_HOME", str(work / "bentoml"))
    from ocrops.config import load_params
    from ocrops.data.contract import read_lexicon
    from ocrops.experiments.pretrained_bento import pretrained_bento
    from ocrops.harness.server import bento_server
    from ocrops.registry.pyfunc import image_b64
    from ocrops.stages.loadtest import model_card, sweep

    tag = pretrained_bento(work / "bento", Path.cwd(), read_lexicon(load_params().data.path))
    payloads = []
    for i, image in enumerate(line_images(16)):
        image.save(work / f"line{i}.png")
        payloads.append(image_b64(work / f"line{i}.png"))
    env = {"OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}
    figures: dict = {}
    for name, extra in (("batching_on", {}), ("batching_off", {"OCROPS_SERVE_MAX_BATCH_SIZE": "1"})):
        with bento_server(tag, env=env | extra, timeout_s=300) as url:
            card = model_card(url)
            if card["topology"] != "two":
                raise AssertionError(f"a GPU machine served topology {card['topology']!r}, not 'two'")
            points = sweep(url, payloads, [8, 32], 256, 30.0)
        figures[name] = {p["concurrency"]: {k: round(p[k], 1) for k in ("requests_per_s", "p99_ms", "error_rate")}
                         for p in points}
        figures[f"{name}_engine"] = card["engine"]
    figures["batching_on_vs_off_c32"] = round(figures["batching_on"][32]["requests_per_s"]
                                              / figures["batching_off"][32]["requests_per_s"], 2)
    return figures


CHECKS: dict[str, Callable[[Path], dict]] = {
    "torch_cuda": torch_cuda, "ort_cuda_parity": ort_cuda_parity, "tensorrt": tensorrt,
    "bf16_lora_step": bf16_lora_step, "ppocr_train_cuda": ppocr_train_cuda, "bento_two_services": bento_two_services,
}


def run(budget_s: float = 480.0, only: list[str] | None = None) -> dict:
    """Every check in turn until the budget is spent; a check left when it is spent is skipped, saying so."""
    started = time.monotonic()
    checks: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="ocrops-gpu-check-") as tmp:
        for name, check in CHECKS.items():
            if only and name not in only:
                continue
            if time.monotonic() - started > budget_s:
                checks[name] = {"status": "skipped", "reason": f"the {budget_s:.0f} s budget was spent"}
                continue
            began = time.monotonic()
            try:
                checks[name] = {"status": "passed", **check(Path(tmp))}
            except Skip as exc:
                checks[name] = {"status": "skipped", "reason": str(exc)}
            except Exception as exc:  # noqa: BLE001 - a failed check is reported, the others still run
                checks[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                                "traceback": traceback.format_exc(limit=6)}
            checks[name]["seconds"] = round(time.monotonic() - began, 1)
    statuses = [c["status"] for c in checks.values()]
    machine = machine_info()
    gpu = machine.get("gpu")
    return {"gpu": gpu, "machine": machine, "seconds": round(time.monotonic() - started, 1),
            "passed": statuses.count("passed"), "failed": statuses.count("failed"),
            "skipped": statuses.count("skipped"),
            "summary": ("no GPU: every check skipped with its reason" if not gpu and statuses.count("skipped")
                        == len(statuses) else f"{statuses.count('passed')} passed, {statuses.count('failed')} "
                                              f"failed, {statuses.count('skipped')} skipped on {gpu}"),
            "checks": checks}
