"""The params.yaml schema: one source of settings, checked before any stage runs."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ocrops.errors import ErrorCode, OcropsError

# train.base when params.yaml names none: the embedded default, which runs on a CPU
DEFAULT_BASE = "ppocr-v6"

SPLITS: tuple[str, ...] = ("train", "val", "test")
# page detection, calibrated for the default base's detector on the sample's validation pages (`ocrops bases`,
# reports/bases.md): PP-OCR's unclip ratio 1.6 grows short table cells past their cell
UNCLIP_RATIO = 1.2
MERGE_GAP = 1.8


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitRatios(_Section):
    """Shares used to assign a split by content hash where a row has none."""

    train: float = Field(0.8, ge=0, le=1)
    val: float = Field(0.1, ge=0, le=1)
    test: float = Field(0.1, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitRatios:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split ratios must add up to 1, got {total:g}")
        return self


class DataParams(_Section):
    path: str = "data"
    pages: str = Field("pages", description="page dataset directory: pages.jsonl + images/ (page evaluation, "
                                            "detector adaptation, page benchmark)")
    guard: str = Field("guard", description="real general-text lines (labels.jsonl + images/): test rows are the "
                                            "forgetting guard, train rows may join training's general mix-in")
    split: SplitRatios = SplitRatios()


class ValidateParams(_Section):
    max_input_side: int = Field(5000, gt=0, description="longest image side, pixels")
    max_pixels: int = Field(25_000_000, gt=0, description="width x height; guards against decompression bombs")
    min_brightness: float = Field(10, ge=0, le=255)
    max_brightness: float = Field(245, ge=0, le=255)
    max_rejected_share: float = Field(0.05, ge=0, le=1, description="fail the stage above this share of rejected rows")
    min_rows_per_split: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ValidateParams:
        if self.min_brightness >= self.max_brightness:
            raise ValueError("min_brightness must be below max_brightness")
        return self


class TrainParams(_Section):
    base: str = Field(DEFAULT_BASE, description="a family's preset or PREFIX:PATH, a models:/ URI, or a saved "
                                                "model directory; it decides the model family")
    epochs: int = Field(3, ge=1)
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto = the GPU where torch sees one (CUDA), else the CPU; CPU runs are reproducible bit "
                            "for bit, GPU runs are not")
    batch_size: int = Field(16, ge=1)
    lr: float = Field(5e-4, gt=0)
    warmup: float = Field(0.1, ge=0, lt=1, description="share of steps with linear warm-up, then cosine")
    weight_decay: float = Field(0.0, ge=0, description="decay toward zero; 0 where l2sp pulls toward the start")
    augment: float = Field(0.5, ge=0, le=1, description="strength of scan augmentations; 0 turns them off")
    enhance_scan: bool = Field(False, description="denoise + detail-enhance every image (saved with the model)")
    patience: int = Field(2, ge=1, description="epochs without a better val CER before stopping")
    general_ratio: float = Field(0.1, ge=0, lt=1, description="share of general (non-domain) lines per epoch")
    general_source: Literal["synthetic", "real", "both"] = Field(
        "synthetic", description="the general lines mixed in: rendered (general stage), the guard set's train "
                                 "rows (real scans), or both")
    distill: float = Field(0.0, ge=0, description="weight of the KL between the model's and the frozen base "
                                                  "model's CTC posteriors on the general lines of each batch")
    distill_temperature: float = Field(2.0, gt=0, description="softens both posteriors before the KL")
    l2sp: float = Field(0.01, ge=0, description="weight of L2-SP: half the squared distance from the pretrained "
                                               "weights (use with weight_decay 0)")
    backbone_lr_scale: float = Field(1.0, gt=0, le=1, description="learning rate of everything below the output "
                                                                 "head, as a share of lr")
    grad_accum: int = Field(1, ge=1, description="batches per optimizer step")
    group_by_length: bool = Field(True, description="batches of lines of similar width (less padding, faster)")
    seed: int = 42
    threads: int = Field(2, ge=1, description="CPU threads; with the seed, data, code and lock it decides the "
                                              "model bit for bit (summation order depends on it)")


class RedactParams(_Section):
    """Kinds of personal data masked in the output; card and ID numbers only when their checksum holds."""

    bank_card: bool = True
    resident_id: bool = True
    phone: bool = True
    email: bool = True


class PostprocessParams(_Section):
    """The post-processing chain packaged with the model (ocrops.postprocess)."""

    lexicon_correction: bool = True
    min_similarity: float = Field(80, ge=50, le=100, description="rapidfuzz score (0-100) a span needs to be rewritten")
    min_term_length: int = Field(4, ge=2, description="shorter terms are never matched against other text")
    max_confidence: float = Field(0.95, ge=0, le=1, description="only lines read with less confidence are corrected")
    rules: list[str] = Field([], description="user rule classes, 'module:ClassName', called with and returning text")
    redact: RedactParams = RedactParams()


class CalibrationParams(_Section):
    """Line confidence calibrated on the validation lines (ocrops.evaluation.calibration), stored with the model."""

    method: Literal["auto", "isotonic", "platt", "none"] = Field(
        "auto", description="auto: the lower cross-validated calibration error; none: raw confidence")
    degraded_copies: int = Field(3, ge=0, description="copies of each validation line through the scan/photo "
                                                      "augmentation: errors to calibrate on, as traffic brings")
    strength: float = Field(1.0, ge=0, le=1, description="augmentation strength of those copies")
    target_exact: float = Field(0.99, gt=0, le=1, description="lines at or above the review threshold are exact "
                                                              "this share of the time on validation")
    bins: int = Field(15, ge=2, description="equal-width bins of the calibration error and reliability diagram")
    seed: int = 0


class EvaluateParams(_Section):
    batch_size: int = Field(16, ge=1)
    latency_lines: int = Field(64, ge=1, description="test lines timed one by one for per-line latency")
    gallery_size: int = Field(40, ge=0, description="worst lines shown in reports/error_gallery.html")
    confusions: int = Field(20, ge=0, description="most frequent character confusions reported")
    page_gallery_size: int = Field(3, ge=1, description="worst test pages drawn side by side in the page gallery")
    calibration: CalibrationParams = CalibrationParams()


class TensorRTParams(_Section):
    """The TensorRT engine built where CUDA and tensorrt exist (skipped, and recorded as such, elsewhere)."""

    enabled: bool = True
    fp16: bool = True
    cache_dir: str = Field(".cache/tensorrt", description="engines by ONNX digest + GPU + TensorRT version")
    min_batch: int = Field(1, ge=1)
    opt_batch: int = Field(8, ge=1)
    max_batch: int = Field(32, ge=1)
    min_width: int = Field(16, ge=16)
    opt_width: int = Field(320, ge=16)
    max_width: int = Field(1600, ge=16)
    workspace_gb: float = Field(2.0, gt=0)


class ExportParams(_Section):
    opset: int = Field(17, ge=13)
    optimization: Literal["basic", "extended", "all"] = Field(
        "extended", description="ONNX Runtime graph optimisation saved offline ('all' is tied to this CPU)")
    int8: bool = Field(True, description="also write a dynamically int8-quantised model")
    int8_op_types: list[str] | None = Field(
        ["MatMul"], description="operators to quantise; null lets ONNX Runtime choose (Conv too: slower, lossy)")
    int8_per_channel: bool = Field(True, description="one scale per output channel (more accurate)")
    batch_size: int = Field(16, ge=1, description="batch size of the parity check")
    min_identical: float = Field(0.995, ge=0, le=1, description="fp32: share of lines read identically")
    max_cer_diff_points: float = Field(0.1, ge=0, description="fp32: CER difference allowed, in points")
    tensorrt: TensorRTParams = TensorRTParams()


class BenchmarkParams(_Section):
    batch_sizes: list[int] = Field([1, 2, 4, 8, 16, 32], min_length=1)
    warmup: int = Field(3, ge=0, description="untimed batches before each measurement")
    lines_per_point: int = Field(128, ge=1, description="lines timed per (engine, batch size) and round")
    rounds: int = Field(3, ge=1, description="engines take turns this many times; the median is kept")
    concurrency: list[int] = Field([1, 2, 4, 8], min_length=1, description="closed-loop clients, batch 1 each")
    requests_per_client: int = Field(16, ge=1)
    threads: int = Field(0, ge=0, description="intra-op threads per engine; 0 = the library default (all cores)")
    pages: int = Field(16, ge=1, description="test pages read by ours and by RapidOCR (pages/s, page CER)")
    page_concurrency: list[int] = Field([1, 4], min_length=1, description="concurrent page readers")


class MlflowParams(_Section):
    tracking_uri: str = Field("sqlite:///mlruns/mlflow.db", description="MLFLOW_TRACKING_URI overrides it")
    artifact_root: str = Field("mlruns/artifacts", description="for experiments this project creates")
    experiment: str = "ocrops"
    registered_model: str = Field("ocrops", description="name in the MLflow model registry")
    timeout_s: float = Field(10, gt=0, description="an unreachable tracking server fails the stage after this")


class PromoteParams(_Section):
    """The gate of `ocrops promote`: the candidate against the current champion, on the same test set."""

    cer_tolerance: float = Field(0.001, ge=0, description="candidate CER may exceed the champion's by this much")
    term_recall_tolerance: float = Field(0.005, ge=0, description="term recall may drop by this much")
    max_latency_ms: float = Field(100, gt=0, description="per-line latency budget (batch 1, CPU of the evaluation)")
    max_guard_cer_rise: float = Field(0.1, ge=0, description="points the guard CER (real general lines) may rise "
                                                             "over the base model's: more is forgetting")
    max_guard_cer_rise_champion: float = Field(0.3, ge=0, description="points it may rise over the champion's on "
                                               "the same guard set: trainings apart only in their seed land up to "
                                               "0.26 points apart on the sample's (params.yaml)")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        """``max_general_cer_rise`` limited the guard CER, not the general one: read under its old name, with a
        deprecation warning."""
        if isinstance(data, dict) and "max_general_cer_rise" in data:
            data = dict(data)
            old = data.pop("max_general_cer_rise")
            data.setdefault("max_guard_cer_rise", old)
            warnings.warn("params.yaml promote.max_general_cer_rise is deprecated: it limits the guard CER; "
                          "write promote.max_guard_cer_rise", FutureWarning, stacklevel=2)  # shown to users
        return data


class RateLimitParams(_Section):
    enabled: bool = True
    rate: float = Field(50, gt=0, description="requests per second refilled per API key (or client IP)")
    burst: int = Field(100, ge=1, description="bucket size: requests allowed at once")


class CaptureParams(_Section):
    """Opt-in: a sample of the lines the model doubts (``needs_review``), kept for review (SECURITY.md)."""

    enabled: bool = Field(False, description="off: nothing a request sends is kept")
    url: str = Field("captures", description="a folder, or any fsspec URL (s3://bucket/prefix) the service can write")
    sample: float = Field(1.0, ge=0, le=1, description="share of the lines needing review that are kept")
    max_lines: int = Field(10_000, ge=1, description="lines kept at most; the oldest go first")
    max_age_days: float = Field(30, gt=0, description="a line older than this is removed")
    queue: int = Field(256, ge=1, description="lines waiting to be written per API worker; beyond, a line is "
                                              "dropped (counted), never waited for")


class ServeParams(_Section):
    """The BentoML service (bentos/service.py); each can be overridden by an OCROPS_SERVE_* variable."""

    bento: str = Field("ocrops", description="bento name; the model is stored as '<bento>-model'")
    engine: Literal["auto", "tensorrt", "ort_cuda", "ort_fp32", "ort_int8", "torch"] = Field(
        "auto", description="auto = TensorRT, then ONNX Runtime CUDA, then ONNX Runtime fp32 on the CPU, then torch; "
        "ort_fp32 and ort_int8 are the export stage's graphs by their names there (ort_cpu: old name of ort_fp32)")
    topology: Literal["auto", "one", "two"] = Field(
        "auto", description="one = the engine inside the API process (no batching, no internal hop: best on CPU); "
        "two = a separate recognizer service with adaptive batching (GPU); auto = two where an NVIDIA GPU is "
        "visible, else one")
    workers: int = Field(1, ge=1, description="API worker processes (HTTP, decoding, detection)")
    max_batch_size: int = Field(32, ge=1, description="adaptive batching: most lines per model call")
    max_latency_ms: int = Field(20_000, ge=1, description="adaptive batching (BentoML's max_latency_ms): a queued "
                                "line the batcher predicts cannot be answered within this is shed (5030); capped "
                                "at timeout_s; long enough for a request of max_lines lines")
    engine_batch_size: int = Field(8, ge=1, description="a request's lines reach the batcher in calls of this "
                                   "many; a dispatched batch runs in engine calls of at most this many, grouped by "
                                   "width (CPU: 8; GPU: max_batch_size)")
    engine_threads: int = Field(0, ge=0, description="CPU threads per engine call; 0 = one-process topology: 1 "
                                "for calls running side by side, all cores for a call alone; two services: the "
                                "library default")
    engine_calls: int = Field(0, ge=0, description="one-process topology: engine calls run at once per API worker; "
                              "0 = CPU cores + 1")
    warmup_batches: int = Field(3, ge=0, description="batches run before /readyz turns true")
    timeout_s: float = Field(20, gt=0, description="MODEL_TIMEOUT: per-request inference deadline (5004)")
    max_queue_size: int = Field(64, ge=1, description="MAX_QUEUE_SIZE: requests in flight per API worker (5030; so "
                                "is a request that the work already admitted would keep past half of timeout_s)")
    retry_after_s: int = Field(1, ge=1, description="Retry-After sent with 4029 and 5030")
    body_timeout_s: float = Field(10, gt=0, description="a request body must arrive within this, plus its size at "
                                  "min_body_rate (4080); until it has, the request holds no place in the queue")
    body_idle_s: float = Field(5, gt=0, description="the longest pause within a request body (4080)")
    min_body_rate: int = Field(50_000, ge=1, description="bytes per second a large request body must keep up")
    max_receiving: int = Field(256, ge=1, description="request bodies being received at once per API worker "
                               "(5030 beyond): bounds the connections slow uploads can hold")
    max_request_bytes: int = Field(32_000_000, ge=1024, description="one request's whole body, any endpoint (5001; "
                                   "/ocr: also at most one image's max_image_bytes in base64)")
    max_worker_bytes: int = Field(256_000_000, ge=1024, description="request bodies held at once per API worker, "
                                  "arriving or being answered (5030 beyond): bounds their memory")
    max_header_bytes: int = Field(65_536, ge=4096, description="a request's line and headers (431 beyond)")
    max_image_bytes: int = Field(10_000_000, ge=1, description="encoded size of one image (5001)")
    max_side: int = Field(5000, ge=16)
    max_pixels: int = Field(25_000_000, ge=256)
    max_jpeg_scans: int = Field(100, ge=1, description="scans of one JPEG (5001): each is a pass over the whole image")
    max_request_pixels: int = Field(100_000_000, ge=256, description="decoded pixels of one request, all its images "
                                    "together, from their headers before decoding (5001)")
    max_worker_pixels: int = Field(200_000_000, ge=256, description="decoded pixels held at once per API worker "
                                   "(5030 beyond): bounds the memory of images being read")
    decode_threads: int = Field(2, ge=1, description="per API worker: threads decoding images over a megapixel and "
                                "searching pages; smaller images are decoded on 2 threads of their own")
    max_images: int = Field(64, ge=1, description="images in one /ocr_batch request (5001)")
    max_pages: int = Field(20, ge=1, description="pages of one PDF or multi-page TIFF (5001); each page counts "
                           "toward max_request_pixels and max_lines")
    pdf_dpi: int = Field(200, ge=50, le=600, description="PDF pages are rendered at this resolution (lower where "
                         "a page would pass max_side or max_pixels)")
    max_lines: int = Field(300, ge=1, description="text lines one request may hold, all its pages together (5001)")
    crop_margin: float = Field(0.1, ge=0, le=2, description="pages: paper added around each detected line, "
                                                            "as a share of its height")
    unclip_ratio: float = Field(UNCLIP_RATIO, gt=0, le=4, description="pages: how far DBNet's shrunk text regions "
                                                                     "are grown back into line boxes")
    merge_gap: float = Field(MERGE_GAP, ge=0, le=10, description="pages: segments of one text line closer than this "
                                                                "many line heights are joined")
    rate_limit: RateLimitParams = RateLimitParams()
    models: list[str] = Field([], description="registered models one Bento serves, each at its champion (else "
                              "candidate): the domains' (ocrops-NAME); a request picks one by name (its `model`), "
                              "the first answers a request that names none; empty: mlflow.registered_model alone")
    chat_models: list[str] = Field(["glm-ocr"], description="model names /v1/chat/completions accepts besides the "
                                   "registered model's own (4002 for any other)")
    postprocess_override: bool = Field(True, description="clients may switch lexicon/PII per request")
    log_content: bool = Field(False, description="debugging only: log every answer, text included (OCR text "
                                                 "can hold personal data; off in production)")
    tracing: bool = Field(False, description="BentoML's OpenTelemetry span per request (configure an exporter in "
                          "BentoML's config); off: no spans are made (on 2 cores they cost ~2 % of throughput)")
    web_ui: bool = Field(True, description="serve the web page at / (off: APIs, API docs and probes only)")
    cors_origins: list[str] = Field([], description="web origins (https://host[:port]) whose pages may call the API; "
                                    "a request from any other origin is refused (4030)")
    web_preview_side: int = Field(1024, ge=64, description="web page: a larger image is first sent downscaled "
                                                          "to this side for a fast first answer")
    capture: CaptureParams = CaptureParams()

    @field_validator("models")
    @classmethod
    def _models_once(cls, value: list[str]) -> list[str]:
        twice = sorted({name for name in value if value.count(name) > 1})
        if twice:
            raise ValueError(f"a model is listed once: {', '.join(twice)}")
        return value

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_renamed(cls, value: object) -> object:
        if value == "ort_cpu":  # the serving name of the fp32 graph before it took the export stage's name
            warnings.warn("serve.engine ort_cpu is deprecated: write ort_fp32", FutureWarning, stacklevel=2)
            return "ort_fp32"
        return value


class LoadTestParams(_Section):
    concurrency: list[int] = Field([1, 2, 4, 8, 16, 32, 64], min_length=1, description="closed-loop clients")
    compare_concurrency: list[int] = Field([1, 8, 32], min_length=1,
                                           description="for batching off and the FastAPI peer")
    requests_per_point: int = Field(256, ge=8)
    open_loop_seconds: float = Field(10, gt=0, description="half load and overload runs")
    overload_factor: float = Field(4, gt=1, description="overload = this x the measured saturation rate")
    client_timeout_s: float = Field(60, gt=0, description="a request without answer by then counts as a hang")


class BatchJob(_Section):
    """One archive the optional dvc stage ``batch@NAME`` reads (a folder DVC tracks), where its Parquet goes and
    which registered model reads it (a domain's: the archive's folders mapped to the domains)."""

    input: str
    output: str
    model: str | None = Field(None, description="NAME@ALIAS or NAME/VERSION, e.g. a domain's ocrops-lab@champion "
                                                "(default: mlflow.registered_model at batch.alias)")


class BatchParams(_Section):
    """`ocrops batch`: the promoted model over an archive of images on Apache Spark -> Parquet."""

    alias: str = Field("champion", description="the registered version read with: models:/NAME@ALIAS")
    master: str = Field("local[2]", description="Spark master (spark-submit's --master beats it)")
    mode: Literal["auto", "line", "page"] = Field("auto", description="as the service: auto reads line-shaped "
                                                                      "images as lines and detects lines in pages")
    batch_size: int = Field(16, ge=1, description="images per model call (Arrow batch of the Spark UDF)")
    images_per_part: int = Field(1000, ge=1, description="files written and committed together: a rerun skips "
                                                         "committed parts, so this is what a killed job redoes")
    partitions: int = Field(0, ge=0, description="Spark tasks per part; 0 = the cluster's default parallelism")
    extensions: list[str] = Field(["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "heic", "heif", "avif", "pdf"],
                                  description="file name endings read (case ignored): images, and PDFs and "
                                              "multi-page TIFFs as a row per page")
    max_pages: int = Field(500, ge=1, description="pages of one PDF or TIFF; a longer one is a row with code 5001 "
                                                  "(a document's rendered pages travel in one Spark row)")
    env_manager: Literal["local", "virtualenv", "uv", "conda"] = Field(
        "local", description="the Python environment of the UDF: local = the job's own; virtualenv/uv/conda = the "
                             "model's logged requirements, built on each executor")
    jobs: dict[str, BatchJob] = Field({}, description="NAME: {input, output}: the optional dvc stage batch@NAME")


class ValidatePaths(_Section):
    accepted: Path = Path("outputs/validate/accepted.jsonl")  # rows that passed, with their split
    quarantine: Path = Path("reports/quarantine.jsonl")
    report: Path = Path("reports/validation.html")
    metrics: Path = Path("reports/validation.json")  # the figures in full
    headline: Path = Path("reports/metrics/validate.json")  # the few `dvc metrics show` lists
    pages: Path = Path("outputs/validate/pages.jsonl")  # pages that passed, with their split
    page_quarantine: Path = Path("reports/page_quarantine.jsonl")
    page_report: Path = Path("reports/page_validation.html")
    guard: Path = Path("outputs/validate/guard.jsonl")  # guard rows that passed, with their source
    guard_quarantine: Path = Path("reports/guard_quarantine.jsonl")


class GeneralPaths(_Section):
    recipe: Path = Path("recipes/general.yaml")  # what the general lines are rendered from
    lines: Path = Path("outputs/general")  # general (non-domain) lines rendered from the recipe


class TrainPaths(_Section):
    model: Path = Path("outputs/train/model")
    checkpoints: Path = Path("outputs/train/checkpoints")
    preview: Path = Path("reports/augment_preview.png")
    history: Path = Path("reports/plots/train_history.json")
    metrics: Path = Path("reports/train.json")
    headline: Path = Path("reports/metrics/train.json")


class EvaluatePaths(_Section):
    metrics: Path = Path("reports/evaluate.json")
    headline: Path = Path("reports/metrics/evaluate.json")
    gallery: Path = Path("reports/error_gallery.html")
    buckets: Path = Path("reports/plots/cer_by_bucket.json")
    confusions: Path = Path("reports/plots/confusions.json")
    page_gallery: Path = Path("reports/page_gallery")  # worst test pages with their lines drawn (PNG)
    page_plot: Path = Path("reports/plots/pages.json")  # page CER and detection F1 by capture, base vs adapted
    reliability: Path = Path("reports/plots/reliability")  # the reliability diagram: a DVC plot file per curve
    reliability_png: Path = Path("reports/reliability.png")  # the same, drawn (an MLflow artifact of the version)
    drift_reference: Path = Path("reports/drift_reference.json")  # the test split's profile `ocrops monitor` compares


class RegisterPaths(_Section):
    version: Path = Path("outputs/register/version.json")  # the registered version (not in git)
    metrics: Path = Path("reports/register.json")
    headline: Path = Path("reports/metrics/register.json")


class ExportPaths(_Section):
    engines: Path = Path("outputs/export")  # exported graphs + export.json
    metrics: Path = Path("reports/export.json")
    headline: Path = Path("reports/metrics/export.json")


class BenchmarkPaths(_Section):
    metrics: Path = Path("reports/benchmark.json")
    headline: Path = Path("reports/metrics/benchmark.json")
    plots: Path = Path("reports/plots/benchmark")


class PackagePaths(_Section):
    bentofile: Path = Path("bentos/bentofile.yaml")  # beside it: the service, its README and Dockerfile template
    bentoml_home: Path = Path(".bentoml")  # BENTOML_HOME unless set: the project's models and bentos
    folder: Path = Path("outputs/package")  # the wheel the Bento installs, the serve check's log
    bento: Path = Path("outputs/package/bento.json")
    metrics: Path = Path("reports/package.json")
    headline: Path = Path("reports/metrics/package.json")


class LoadTestPaths(_Section):
    metrics: Path = Path("reports/loadtest.json")
    headline: Path = Path("reports/metrics/loadtest.json")
    plots: Path = Path("reports/plots/loadtest")
    logs: Path = Path("outputs/loadtest")


class ContainerPaths(_Section):
    recipe: Path = Path("deploy/container")  # the image's base and build scripts (podman)
    image: Path = Path("outputs/container/image.json")  # the image `ocrops container build` made
    report: Path = Path("reports/container.json")  # `ocrops container check`


class AblationPaths(_Section):
    variants: Path = Path("recipes/ablation.yaml")
    work: Path = Path("outputs/ablation")  # one params/model folder per variant
    report: Path = Path("reports/ablation.json")  # and .md beside it


class BasesPaths(_Section):
    work: Path = Path("outputs/bases")  # one model/engines folder per base
    report: Path = Path("reports/bases.json")  # and .md beside it


class TrainMemoryPaths(_Section):
    report: Path = Path("reports/train_memory.json")  # and .md beside it


class GpuCheckPaths(_Section):
    report: Path = Path("reports/gpu-check.json")


class MonitorPaths(_Section):
    report: Path = Path("reports/monitor.html")  # and .json beside it: `ocrops monitor`


class Paths(_Section):
    """Every stage's inputs and outputs, and those of the commands beside the pipeline, declared once (the
    catalog); dvc.yaml reads the same values as ``${paths.*}``. params.yaml writes them all out: a test holds
    the two equal."""

    validate_: ValidatePaths = Field(ValidatePaths(), alias="validate")
    general: GeneralPaths = GeneralPaths()
    train: TrainPaths = TrainPaths()
    evaluate: EvaluatePaths = EvaluatePaths()
    register_: RegisterPaths = Field(RegisterPaths(), alias="register")
    export: ExportPaths = ExportPaths()
    benchmark: BenchmarkPaths = BenchmarkPaths()
    package: PackagePaths = PackagePaths()
    loadtest: LoadTestPaths = LoadTestPaths()
    container: ContainerPaths = ContainerPaths()
    ablation: AblationPaths = AblationPaths()
    bases: BasesPaths = BasesPaths()
    train_memory: TrainMemoryPaths = TrainMemoryPaths()
    gpu_check: GpuCheckPaths = GpuCheckPaths()
    monitor: MonitorPaths = MonitorPaths()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Params(_Section):
    """params.yaml. Besides these sections, a model family may own one, kept here as data: its record
    (ocrops.families) names the section and validates it (``families.settings_for``); parsing params.yaml
    imports no family."""

    data: DataParams = DataParams()
    validate_: ValidateParams = Field(ValidateParams(), alias="validate")
    train: TrainParams = TrainParams()
    postprocess: PostprocessParams = PostprocessParams()
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    benchmark: BenchmarkParams = BenchmarkParams()
    mlflow: MlflowParams = MlflowParams()
    promote: PromoteParams = PromoteParams()
    serve: ServeParams = ServeParams()
    loadtest: LoadTestParams = LoadTestParams()
    batch: BatchParams = BatchParams()
    paths: Paths = Paths()

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    def section(self, name: str) -> object:
        """A section params.yaml holds besides these (a model family's settings), as written; None if absent.
        ocrops.families.settings_for validates it against its family's settings model."""
        return (self.__pydantic_extra__ or {}).get(name)

    def sections(self) -> list[str]:
        """The names of the sections params.yaml holds besides these."""
        return sorted(self.__pydantic_extra__ or {})


def flatten(data: dict, prefix: str = "") -> dict[str, object]:
    """{"train": {"lr": 1}} -> {"train.lr": 1}, as MLflow params are logged."""
    flat: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


# a domain's params.yaml (pipelines/NAME/) names the project's with this key and holds only what differs
EXTENDS = "extends"
# the settings that name a file of the project, not of one pipeline: inherited by a domain, they are rebased so
# that they still name the project's file (its guard set, MLflow store, recipes, Bento store); every other path
# of the catalog is an output, made under the folder the pipeline runs in
PROJECT_FILES: tuple[str, ...] = (
    "data.path", "data.pages", "data.guard", "train.base", "mlflow.tracking_uri", "mlflow.artifact_root",
    "serve.capture.url", "export.tensorrt.cache_dir", "paths.general.recipe", "paths.package.bentofile",
    "paths.package.bentoml_home", "paths.container.recipe", "paths.ablation.variants",
)
_SQLITE = "sqlite:///"


def _read(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"params file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{path} must hold a mapping of sections")
    return raw


def _rebased(value: object, source: Path, target: Path) -> object:
    """A relative file name written in ``source``'s folder, as seen from ``target``'s; anything else as it is
    (URLs, absolute paths)."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_SQLITE) and not value.startswith(_SQLITE + "/"):
        return _SQLITE + os.path.relpath(source / value[len(_SQLITE):], target)
    if ":" in value or Path(value).is_absolute():
        return value
    return os.path.relpath(source / value, target)


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict)
                       else value)
    return merged


def _inherited(path: Path, raw: dict) -> dict:
    """A domain's params over the project's it ``extends``: the project's settings in full (defaults
    included), its file names rebased to the domain's folder, then the domain's own values on top."""
    parent = (path.parent / str(raw.pop(EXTENDS))).resolve()
    if "paths" in raw:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{path}: a domain's files follow the catalog of {parent} "
                                                   f"(paths:, under the domain's folder); remove paths:")
    base = load_params(parent).model_dump(mode="json", by_alias=True)
    here = path.parent.resolve()
    for dotted in PROJECT_FILES:
        *section, key = dotted.split(".")
        holder = base
        for part in section:
            holder = holder.get(part) or {}
        # train.base names a file only where one is there (else a preset: ppocr-v6)
        if key in holder and (dotted != "train.base" or (parent.parent / str(holder[key])).exists()):
            holder[key] = _rebased(holder[key], parent.parent, here)
    return _merge(base, raw)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; a bad file is a 4002 with the offending keys. A file with ``extends:``
    (a domain's, pipelines/NAME/params.yaml) holds only what differs from the file it names."""
    path = Path(path)
    raw = _read(path)
    if EXTENDS in raw:
        raw = _inherited(path, raw)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise OcropsError(ErrorCode.INVALID_INPUT, f"{path}: {problems}") from exc
