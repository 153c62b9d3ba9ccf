import hashlib
from collections import Counter

from ocrops.config import SplitRatios
from ocrops.data.split import content_hash, sha256_bytes, split_for_hash


def test_same_hash_same_split_and_ratios_roughly_hold():
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(5000)]
    first = [split_for_hash(d) for d in digests]
    assert first == [split_for_hash(d) for d in digests]
    counts = Counter(first)
    assert abs(counts["train"] / 5000 - 0.8) < 0.03
    assert abs(counts["val"] / 5000 - 0.1) < 0.02
    assert abs(counts["test"] / 5000 - 0.1) < 0.02


def test_ratios_are_honoured():
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(2000)]
    only_test = SplitRatios(train=0.0, val=0.0, test=1.0)
    assert {split_for_hash(d, only_test) for d in digests} == {"test"}


def test_content_hash_matches_bytes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert content_hash(path) == sha256_bytes(b"x" * 3_000_000)
