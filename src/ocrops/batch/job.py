"""The Spark job of ``ocrops batch``: list the archive's files, leave out those in committed parts, read the rest
part by part with the registered model's pyfunc as a Spark UDF, and write each part as Parquet: a row per image,
a row per page of a PDF or multi-page TIFF (``page``, 1-based; null for an image).

A part is one Spark job whose output Spark commits with ``_SUCCESS``: a job killed midway loses at most the part
in flight, and the rerun deletes it and reads its images again, so no image is written twice. A bad file never
fails the job: its row carries the error code (4001 unreadable, 5001 too large) and the others are read.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field

from ocrops.batch.documents import PAGES_TYPE, limits_for, split
from ocrops.batch.exports import ExportSummary, local_path, write_documents
from ocrops.batch.model import BatchModel, udf_params
from ocrops.batch.parts import Parts
from ocrops.config import BatchParams, Params
from ocrops.errors import ErrorCode, OcropsError

log = logging.getLogger(__name__)

LINES_TYPE = "array<struct<text:string,raw_text:string,confidence:double,box:array<array<double>>>>"


class _DropLocalEnvWarning(logging.Filter):
    """MLflow warns at every `spark_udf(env_manager="local")` that the executors do not recreate the training
    environment: with batch.env_manager local that is the choice made (the executors run this environment)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return 'env_manager="local"' not in record.getMessage()


_LOCAL_ENV_WARNING = _DropLocalEnvWarning()


@dataclass
class BatchSummary:
    output: str
    model: dict[str, str]
    images: int = 0  # files in the archive
    skipped: int = 0  # already in committed parts
    read: int = 0  # by this run
    rows: int = 0  # written by this run: a row per image, a row per page of a document
    parts_written: int = 0
    parts_redone: list[str] = field(default_factory=list)  # left unfinished by a killed run
    errors: dict[str, int] = field(default_factory=dict)  # code -> rows, this run
    seconds: float = 0.0  # the whole run: listing, model loading, reading
    read_seconds: float = 0.0  # the parts' Spark jobs
    images_per_s: float = 0.0  # read / read_seconds

    def to_dict(self) -> dict:
        return asdict(self)


def session(master: str, app: str = "ocrops-batch"):
    """A Spark session on ``master``; under spark-submit its own --master and settings are kept."""
    from pyspark.sql import SparkSession

    # pyspark 4.3 warns on every pandas UDF that it is not yet tested on pandas 3; the Parquet the job writes is
    # checked against the served answers (tests/integration/test_batch_spark.py)
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    builder = SparkSession.builder.appName(app)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not started by spark-submit: the job picks the master
        builder = builder.master(master)
        if master.startswith("local"):
            # executors are this machine's Python: the one running the job, with ocrops installed
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.ui.enabled", "false")
    spark = (builder.config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    return spark


def list_images(spark, source: str, extensions: list[str]) -> list[str]:
    """Every image file under ``source`` (recursively), as the URIs Spark reads them by, sorted."""
    from pyspark.sql import functions as F

    pattern = r"(?i)\.(" + "|".join(e.lstrip(".") for e in extensions) + r")$"
    files = (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(source)
             .select("path").where(F.col("path").rlike(pattern)))
    return sorted(row.path for row in files.collect())


def run_batch(spark, params: Params, model: BatchModel, source: str, output: str, restart: bool = False,
              progress=None) -> BatchSummary:
    """Read ``source`` into ``output`` (see the module's docstring); returns what this run did."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    started = time.perf_counter()
    b: BatchParams = params.batch
    parts = Parts(spark, output)
    if restart:
        parts.delete_all()
    manifest = {"model": model.to_dict(), "input": source, "mode": b.mode}
    earlier = parts.read_manifest()
    if earlier is not None and (earlier["model"]["version"], earlier["input"], earlier["mode"]) != (
            model.version, source, b.mode):
        raise OcropsError(ErrorCode.INVALID_INPUT,
                          f"{output} holds results of {earlier['model']['name']} version {earlier['model']['version']}"
                          f" over {earlier['input']} (mode {earlier['mode']}); this run would read with version "
                          f"{model.version} over {source} (mode {b.mode}): write to another folder, or --restart")
    summary = BatchSummary(output=output, model=model.to_dict())
    summary.parts_redone = parts.drop_unfinished()
    parts.write_manifest(manifest)
    images = list_images(spark, source, b.extensions)
    done = set()
    if committed := parts.committed():
        done = {r.path for r in spark.read.option("basePath", output).parquet(*committed).select("path").collect()}
    todo = [p for p in images if p not in done]
    summary.images, summary.skipped = len(images), len(images) - len(todo)

    errors: Counter = Counter()
    if todo:  # the UDF ships the model to the executors: only when there is something to read
        import mlflow.pyfunc

        if b.env_manager == "local":  # chosen: the executors run this environment (batch.env_manager says so)
            logging.getLogger("mlflow.pyfunc").addFilter(_LOCAL_ENV_WARNING)
        predict = mlflow.pyfunc.spark_udf(spark, model.uri, result_type=model.result_type, env_manager=b.env_manager,
                                          params=udf_params(params))
        # a document's pages are read as pages, whatever the mode, as the service reads them
        predict_page = predict if b.mode == "page" else mlflow.pyfunc.spark_udf(
            spark, model.uri, result_type=model.result_type, env_manager=b.env_manager,
            params=udf_params(params) | {"mode": "page"})
    limits = limits_for(params)
    split_pages = F.udf(lambda content: [asdict(p) for p in split(bytes(content), limits)], PAGES_TYPE)
    number, reading = parts.next_number(), time.perf_counter()
    for start in range(0, len(todo), b.images_per_part):
        chunk = todo[start : start + b.images_per_part]
        frame = spark.read.format("binaryFile").load(chunk)
        frame = frame.repartition(b.partitions or spark.sparkContext.defaultParallelism)
        # kept while the part is written: both branches below read it, and a page is rendered once
        pages = frame.select("path", F.explode(split_pages("content")).alias("p")).select(
            "path", "p.page", "p.image", F.col("p.error_code").alias("split_code"),
            F.col("p.error").alias("split_error")).persist(StorageLevel.MEMORY_AND_DISK)

        def read(rows, udf):
            return rows.select("path", "page", "split_code", "split_error",
                               udf(F.struct(F.base64("image").alias("image"))).alias("r"))

        result = read(pages.where(F.col("page").isNull()), predict).unionByName(
            read(pages.where(F.col("page").isNotNull()), predict_page))
        code = F.col("r.error_code")
        result = result.select(
            "path", "page", "r.text", "r.raw_text", "r.confidence", "r.mode",
            F.from_json("r.lines", LINES_TYPE).alias("lines"),
            F.coalesce("split_code", F.when(code != 0, code.cast("int"))).alias("error_code"),
            F.coalesce("split_error", F.when(code != 0, F.col("r.error"))).alias("error"),
            *[(F.when(code == 0, F.col(f"r.{k}").cast("int")) if model.sizes else F.lit(None).cast("int")).alias(k)
              for k in ("width", "height", "rotation")],
            F.lit(model.name).alias("model_name"), F.lit(model.version).alias("model_version"),
            F.lit(model.alias).alias("model_alias"))
        target = parts.path(Parts.name(number))
        try:
            result.write.mode("overwrite").parquet(target)
        finally:
            pages.unpersist()
        written = spark.read.parquet(target).groupBy("error_code").count().collect()
        errors.update({str(r.error_code): r["count"] for r in written if r.error_code is not None})
        summary.rows += sum(r["count"] for r in written)
        summary.read += len(chunk)
        summary.parts_written += 1
        number += 1
        if progress is not None:
            progress(summary.read, len(todo))
    summary.errors = dict(sorted(errors.items()))
    summary.read_seconds = round(time.perf_counter() - reading, 2)
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.images_per_s = round(summary.read / summary.read_seconds, 2) if summary.read_seconds else 0.0
    return summary


def export_documents(spark, output: str, fmt, folder) -> ExportSummary:
    """Every file in ``output``'s committed parts written as ``fmt`` under ``folder`` (by the driver)."""
    committed = Parts(spark, output).committed()
    if not committed:
        return ExportSummary(format=str(fmt), folder=str(folder))
    frame = spark.read.option("basePath", output).parquet(*committed).toPandas()

    def read(path: str) -> bytes:
        local = local_path(path)
        if os.path.isfile(local):
            with open(local, "rb") as f:
                return f.read()
        return bytes(spark.read.format("binaryFile").load(path).first().content)

    return write_documents(frame, fmt, folder, read)
