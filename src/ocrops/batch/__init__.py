"""Batch OCR over archives on Apache Spark: the registered model (its MLflow pyfunc, as a Spark UDF) over a folder
or object-store URI of images, results as Parquet, resumable part by part (``ocrops batch``)."""
