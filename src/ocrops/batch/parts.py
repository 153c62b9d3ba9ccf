"""The output folder of a batch job, on any file system Hadoop reaches (local, HDFS, s3a, gs, abfs):
``part=NNNNN/`` folders of Parquet, each committed by Spark with its ``_SUCCESS``, and ``_ocrops_batch.json``
saying which model and input they belong to. Names starting with ``_`` are invisible to Parquet readers."""

from __future__ import annotations

import json
import re

MANIFEST = "_ocrops_batch.json"
PART = re.compile(r"^part=(\d{5,})$")


class Parts:
    """Committed and unfinished parts under ``output``, through the JVM's Hadoop FileSystem."""

    def __init__(self, spark, output: str) -> None:
        self.spark, self.output = spark, output.rstrip("/")
        self._jvm = jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self.fs = self._Path(self.output).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def path(self, name: str) -> str:
        return f"{self.output}/{name}"

    def _listing(self) -> dict[int, bool]:
        """part number -> committed, for every part folder there."""
        root = self._Path(self.output)
        if not self.fs.exists(root):
            return {}
        parts = {}
        for status in self.fs.listStatus(root):
            if status.isDirectory() and (m := PART.match(status.getPath().getName())):
                parts[int(m.group(1))] = bool(self.fs.exists(self._Path(status.getPath(), "_SUCCESS")))
        return parts

    def committed(self) -> list[str]:
        return [self.path(self.name(n)) for n, done in sorted(self._listing().items()) if done]

    def drop_unfinished(self) -> list[str]:
        """Delete the parts a killed job left without ``_SUCCESS``: they are read again."""
        dropped = [self.path(self.name(n)) for n, done in sorted(self._listing().items()) if not done]
        for path in dropped:
            self.fs.delete(self._Path(path), True)
        return dropped

    def next_number(self) -> int:
        return max(self._listing(), default=-1) + 1

    @staticmethod
    def name(number: int) -> str:
        return f"part={number:05d}"

    def read_manifest(self) -> dict | None:
        path = self._Path(self.path(MANIFEST))
        if not self.fs.exists(path):
            return None
        stream = self.fs.open(path)  # not spark.read: Spark skips files whose names start with "_"
        try:
            return json.loads(self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        finally:
            stream.close()

    def write_manifest(self, manifest: dict) -> None:
        self.fs.mkdirs(self._Path(self.output))
        stream = self.fs.create(self._Path(self.path(MANIFEST)), True)
        try:
            stream.write(bytearray(json.dumps(manifest, indent=2).encode("utf-8")))
        finally:
            stream.close()

    def delete_all(self) -> None:
        self.fs.delete(self._Path(self.output), True)
