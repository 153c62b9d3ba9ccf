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


# -- breakdowns ------------------------------------------------------------------------------------

EMPTY = "∅"  # the missing side of an inserted or deleted character


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\u3000" <= ch <= "\u303f"


def buckets(reference: str, out_of_vocabulary: set[str] = frozenset()) -> list[str]:
    """The buckets a reference line falls in: by length, digits, script, out-of-vocabulary characters."""
    n = len(reference)
    # names are valid MLflow metric keys (no <, >, parentheses) as well as readable labels
    names = ["length 1-10" if n <= 10 else "length 11-25" if n <= 25 else "length over 25"]
    names.append("with digits" if any(c.isdigit() for c in reference) else "no digits")
    names.append("with CJK" if any(_is_cjk(c) for c in reference) else "Latin only")
    if out_of_vocabulary:
        names.append("with OOV chars" if set(reference) & out_of_vocabulary else "in vocabulary")
    return names


def cer_by_bucket(predictions: Sequence[str], references: Sequence[str],
                  out_of_vocabulary: set[str] = frozenset()) -> dict[str, dict[str, float]]:
    """{bucket: {"lines": n, "cer": pooled CER of the bucket's lines}}, buckets in a stable order."""
    groups: dict[str, list[int]] = {}
    for i, ref in enumerate(references):
        for name in buckets(ref, out_of_vocabulary):
            groups.setdefault(name, []).append(i)
    return {
        name: {"lines": len(idx), "cer": cer([predictions[i] for i in idx], [references[i] for i in idx])}
        for name, idx in sorted(groups.items())
    }


def confusions(predictions: Sequence[str], references: Sequence[str]) -> list[tuple[str, str]]:
    """Every character edit as (reference char, predicted char); ∅ marks an insertion or a deletion."""
    pairs: list[tuple[str, str]] = []
    for pred, ref in zip(predictions, references, strict=True):
        for op in Levenshtein.editops(ref, pred):
            if op.tag == "replace":
                pairs.append((ref[op.src_pos], pred[op.dest_pos]))
            elif op.tag == "delete":
                pairs.append((ref[op.src_pos], EMPTY))
            else:
                pairs.append((EMPTY, pred[op.dest_pos]))
    return pairs


def top_confusions(predictions: Sequence[str], references: Sequence[str], n: int = 20) -> list[dict]:
    """The ``n`` most frequent confusion pairs with their counts."""
    from collections import Counter

    counts = Counter(confusions(predictions, references)).most_common(n)
    return [{"reference": r, "predicted": p, "count": c} for (r, p), c in counts]
