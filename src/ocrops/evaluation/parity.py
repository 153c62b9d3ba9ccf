"""Parity of an exported engine with the trained model: the same strings, the same CER."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from rapidfuzz.distance import Levenshtein

from ocrops.errors import PipelineError
from ocrops.evaluation.metrics import cer
from ocrops.inference.types import Prediction


@dataclass
class Parity:
    engine: str
    lines: int
    identical: int
    identical_share: float
    cer_reference: float
    cer_engine: float
    cer_diff_points: float  # engine minus reference, in CER points (1 point = 1 %)
    worst: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def compare(engine: str, reference: Sequence[Prediction], candidate: Sequence[Prediction], texts: Sequence[str],
            images: Sequence[str], worst: int = 10) -> Parity:
    """Engine readings against the trained model's on the same lines; ``worst`` lists the lines that differ most."""
    ref, got = [p.text for p in reference], [p.text for p in candidate]
    same = sum(a == b for a, b in zip(ref, got, strict=True))
    c_ref, c_got = cer(ref, texts), cer(got, texts)
    differing = sorted((i for i in range(len(ref)) if ref[i] != got[i]),
                       key=lambda i: -Levenshtein.distance(ref[i], got[i]))
    return Parity(
        engine=engine, lines=len(ref), identical=same, identical_share=same / max(len(ref), 1),
        cer_reference=c_ref, cer_engine=c_got, cer_diff_points=100 * (c_got - c_ref),
        worst=[{"image": images[i], "reference": texts[i], "model": ref[i], "engine": got[i]}
               for i in differing[:worst]],
    )


def check(parity: Parity, min_identical: float, max_cer_diff_points: float) -> None:
    """Raise PipelineError naming the worst lines when an engine does not read as the trained model does."""
    if parity.identical_share >= min_identical and abs(parity.cer_diff_points) <= max_cer_diff_points:
        return
    lines = "; ".join(f"{w['image']}: model {w['model']!r} vs engine {w['engine']!r}" for w in parity.worst[:5])
    raise PipelineError(
        f"{parity.engine} parity failed: {parity.identical_share:.2%} of {parity.lines} lines identical (need "
        f"{min_identical:.2%}), CER difference {parity.cer_diff_points:+.3f} points (allowed "
        f"{max_cer_diff_points}); worst lines: {lines}")
