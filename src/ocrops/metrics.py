"""Recognition metrics: CER, WER, exact match, domain-term recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rapidfuzz.distance import Levenshtein


@dataclass(frozen=True)
class Scores:
    cer: float
    wer: float
    exact_match: float
    term_recall: float | None
    lines: int

    def to_dict(self) -> dict:
        return asdict(self)


def cer(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Character error rate: edit distance over reference characters, pooled over lines."""
    chars = sum(len(r) for r in references)
    return sum(Levenshtein.distance(p, r) for p, r in zip(predictions, references, strict=True)) / max(chars, 1)


def wer(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Word error rate on whitespace tokens (CJK runs count as one token, as most OCR benchmarks do)."""
    words = sum(len(r.split()) for r in references)
    dist = sum(Levenshtein.distance(p.split(), r.split()) for p, r in zip(predictions, references, strict=True))
    return dist / max(words, 1)


def term_recall(predictions: Sequence[str], references: Sequence[str], lexicon: Sequence[str]) -> float | None:
    """Of the lexicon terms in each reference, the share found verbatim in the prediction."""
    found = total = 0
    terms = sorted(set(lexicon), key=len, reverse=True)
    for pred, ref in zip(predictions, references, strict=True):
        for term in terms:
            if term in ref:
                total += 1
                found += term in pred
    return found / total if total else None


def score(predictions: Sequence[str], references: Sequence[str], lexicon: Sequence[str] = ()) -> Scores:
    exact = sum(p == r for p, r in zip(predictions, references, strict=True))
    return Scores(
        cer=cer(predictions, references),
        wer=wer(predictions, references),
        exact_match=exact / max(len(references), 1),
        term_recall=term_recall(predictions, references, lexicon) if lexicon else None,
        lines=len(references),
    )
