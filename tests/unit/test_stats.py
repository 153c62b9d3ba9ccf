from pathlib import Path

from ocrops.data.stats import dataset_stats, length_bucket


def test_stats_of_small_dataset(small_dataset: Path):
    stats = dataset_stats(small_dataset, vocabulary=frozenset("血常规WBC0123456789.×/L "))
    assert stats.rows == 12
    assert stats.splits == {"train": 8, "val": 2, "test": 2}
    assert sum(stats.length_histogram.values()) == 12
    assert stats.oov_chars == {"㎍": 12}
    assert stats.char_classes["cjk"] == 36


def test_length_buckets():
    assert [length_bucket(n) for n in (0, 5, 6, 10, 11, 50, 51)] == [
        "0-5", "0-5", "6-10", "6-10", "11-20", "31-50", ">50"]
