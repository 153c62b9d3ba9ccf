"""Post-processing that travels with a packaged model: lexicon correction, user rules, PII redaction, and the
confidence calibration the evaluate stage fitted.

The chain runs in this order on every recognized line: lexicon correction (only low-confidence lines),
the user's rule classes, then redaction, so that no rule ever sees what redaction removed from the output.
A line's confidence is calibrated beside the text: the chance that its raw reading is exact.
"""

from __future__ import annotations

import importlib
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from ocrops.config import PostprocessParams
from ocrops.errors import ErrorCode, OcropsError

POSTPROCESS_FILE = "postprocess.json"

# -- PII -----------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# 18-character resident identity number (GB 11643): 17 digits and a check character
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# 13-19 digits, optionally grouped by single spaces or hyphens (as printed on cards and statements)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# mainland mobiles (optionally +86), and landlines with an area code
_PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

MASKS = {"email": "[EMAIL]", "resident_id": "[ID_NUMBER]", "bank_card": "[BANK_CARD]", "phone": "[PHONE]"}


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum used by payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def resident_id_valid(number: str) -> bool:
    """GB 11643 check character and a plausible birth date (YYYYMMDD at positions 7-14)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not (1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return False
    check = _ID_CHECK[sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True)) % 11]
    return number[17].upper() == check


def _sub_valid(pattern: re.Pattern, mask: str, valid: Callable[[str], bool], text: str) -> str:
    return pattern.sub(lambda m: mask if valid(m.group(0)) else m.group(0), text)


def redact(text: str, bank_card: bool = True, resident_id: bool = True, phone: bool = True,
           email: bool = True) -> str:
    """Replace personal data with a mask; numbers are masked only when their checksum holds."""
    if email:
        text = _EMAIL.sub(MASKS["email"], text)
    if resident_id:
        text = _sub_valid(_RESIDENT_ID, MASKS["resident_id"], resident_id_valid, text)
    if bank_card:
        text = _sub_valid(_CARD, MASKS["bank_card"], lambda s: luhn_valid(re.sub(r"[ -]", "", s)), text)
    if phone:
        text = _PHONE.sub(MASKS["phone"], text)
    return text


# -- lexicon correction ------------------------------------------------------------------------------


def _protected(span: str) -> bool:
    """Digits, amounts and dates are never rewritten: a wrong dose is worse than a visible typo."""
    return any(c.isdigit() or c in "%$¥€£.,:/-+" for c in span)


def _best_span(term: str, text: str, start: int, end: int) -> tuple[int, int]:
    """The alignment keeps the term's length; widen or narrow it by one character at either end
    where that matches better (an inserted or dropped character, e.g. a doubled bracket)."""
    spans = [(s, e) for s in (start - 1, start, start + 1) for e in (end - 1, end, end + 1)
             if 0 <= s < e <= len(text)]
    return min(spans, key=lambda se: (Levenshtein.distance(text[se[0]:se[1]], term),
                                      abs(se[1] - se[0] - len(term)), se != (start, end)))


def _script(ch: str) -> str:
    """"cjk" for ideographs and kana/hangul, "word" for other letters and digits, "" for the rest."""
    if unicodedata.name(ch, "").startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL")):
        return "cjk"
    return "word" if ch.isalnum() else ""


def _joined(a: str, b: str) -> bool:
    """Two neighbours that belong to one word (no boundary between them)."""
    kind = _script(a)
    return bool(kind) and kind == _script(b)


def _inside_a_longer_word(text: str, start: int, end: int, term: str) -> bool:
    """Whether rewriting text[start:end] would change part of a longer word rather than a whole near miss.

    Latin words end at a boundary: a span joined to a letter or digit on either side is part of a longer word
    (INR never turns INTRODUCTION into INRRODUCTION). Chinese has no boundaries to see: a span may touch other
    ideographs only where it already agrees with the term, so the edit is inside the term, never at a side
    that runs on into other text (甲泼尼龙片 never turns 甲泼尼龙琥珀酸钠 into 甲泼尼龙片珀酸钠)."""
    span = text[start:end]
    left = start > 0 and _joined(text[start - 1], text[start])
    right = end < len(text) and _joined(text[end - 1], text[end])
    if (left and _script(text[start]) == "word") or (right and _script(text[end - 1]) == "word"):
        return True
    return (left and span[0] != term[0]) or (right and span[-1] != term[-1])


class LexiconCorrector:
    """Rewrite a near miss of a whole domain term to the term, where the model was unsure of the line."""

    def __init__(self, lexicon: Sequence[str], min_similarity: float = 80.0, min_term_length: int = 4) -> None:
        # terms with digits are left alone, and short terms match too much by chance (one wrong letter in three
        # is another word); they still protect their span when read verbatim
        self.terms = sorted({t for t in lexicon if len(t) >= min_term_length and not _protected(t)}, key=len,
                            reverse=True)
        self.all_terms = sorted(set(lexicon), key=len, reverse=True)
        self.min_similarity = min_similarity

    def __call__(self, text: str) -> str:
        taken = [False] * len(text)
        for term in self.all_terms:  # a term already read verbatim is never turned into another term
            for m in re.finditer(re.escape(term), text):
                taken[m.start() : m.end()] = [True] * len(term)
        for term in self.terms:
            if len(term) > len(text):
                continue
            hit = fuzz.partial_ratio_alignment(term, text, score_cutoff=self.min_similarity)
            if hit is None or hit.score >= 100:
                continue
            start, end = _best_span(term, text, hit.dest_start, hit.dest_end)
            span = text[start:end]
            if (any(taken[start:end]) or _protected(span) or _inside_a_longer_word(text, start, end, term)
                    or Levenshtein.distance(span, term) > max(1, len(term) // 4)):
                continue
            text = text[:start] + term + text[end:]
            taken = taken[:start] + [True] * len(term) + taken[end:]
        return text


# -- rules -------------------------------------------------------------------------------------------


def load_rule(spec: str) -> Callable[[str], str]:
    """``package.module:ClassName`` -> an instance; the class is called with the text and returns the text."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise OcropsError(ErrorCode.INVALID_INPUT, f"post-processing rule {spec!r}: expected 'module:ClassName'")
    try:
        rule = getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, AttributeError) as exc:
        raise OcropsError(ErrorCode.INVALID_INPUT,
                          f"post-processing rule {spec!r} cannot be loaded: {exc}") from exc
    if not callable(rule):
        raise OcropsError(ErrorCode.INVALID_INPUT, f"post-processing rule {spec!r} is not callable")
    return rule


# -- confidence ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """The recognizer's raw line confidence -> the chance the line is read exactly (fitted on validation lines by
    ``ocrops.evaluation.calibration``); a line under ``threshold`` needs review.

    ``isotonic``: a step function through ``points`` ((raw, calibrated) pairs, linear between them);
    ``platt``: a logistic curve on the raw confidence's log-odds, ``sigmoid(a * logit(raw) + b)``;
    ``identity``: the raw confidence as it is (calibration off)."""

    method: str
    threshold: float
    points: tuple[tuple[float, float], ...] = ()
    a: float = 1.0
    b: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # how it was fitted (kept, not used)

    @cached_property
    def _steps(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array([x for x, _ in self.points]), np.array([y for _, y in self.points])

    def __call__(self, raw: float) -> float:
        if self.method == "isotonic":
            return float(np.interp(raw, *self._steps))
        if self.method == "platt":
            p = min(max(raw, 1e-6), 1 - 1e-6)
            return float(1 / (1 + np.exp(-(self.a * np.log(p / (1 - p)) + self.b))))
        return float(raw)

    def needs_review(self, calibrated: float) -> bool:
        return calibrated < self.threshold

    def to_dict(self) -> dict:
        return {"method": self.method, "threshold": self.threshold, "points": [list(p) for p in self.points],
                "a": self.a, "b": self.b, **({"fitted": self.extra} if self.extra else {})}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        if data.get("method") not in ("isotonic", "platt", "identity"):
            raise OcropsError(ErrorCode.INVALID_INPUT, f"unknown confidence calibration {data.get('method')!r}")
        return cls(data["method"], float(data["threshold"]), tuple((float(x), float(y)) for x, y in
                                                                   data.get("points", ())),
                   float(data.get("a", 1.0)), float(data.get("b", 0.0)), data.get("fitted", {}))


# -- the chain ---------------------------------------------------------------------------------------


@dataclass
class Postprocessor:
    """The chain configured by ``params.postprocess`` with the domain lexicon."""

    settings: PostprocessParams
    lexicon: list[str]
    calibration: Calibration | None = None  # None: a model registered before calibration (confidence raw)

    def __post_init__(self) -> None:
        self.corrector = LexiconCorrector(self.lexicon, self.settings.min_similarity, self.settings.min_term_length)
        self.rules = [load_rule(spec) for spec in self.settings.rules]

    def __call__(self, text: str, confidence: float = 0.0, *, correct: bool | None = None,
                 redact_pii: bool | None = None) -> str:
        """``correct`` / ``redact_pii`` override the configured switches for one call: None keeps them,
        ``redact_pii=True`` masks every kind of personal data, False none."""
        s = self.settings
        if (s.lexicon_correction if correct is None else correct) and confidence < s.max_confidence:
            text = self.corrector(text)
        for rule in self.rules:
            text = rule(text)
        if redact_pii is None:
            text = self.redact(text)
        elif redact_pii:
            text = redact(text)
        return text

    def redact(self, text: str) -> str:
        return redact(text, **self.settings.redact.model_dump())

    def confidence(self, raw: float) -> tuple[float, bool | None]:
        """A line's answered confidence (calibrated) and whether it needs review (None: not calibrated)."""
        if self.calibration is None:
            return raw, None
        calibrated = self.calibration(raw)
        return calibrated, self.calibration.needs_review(calibrated)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        payload = {"settings": self.settings.model_dump(mode="json"), "lexicon": self.lexicon}
        if self.calibration is not None:
            payload["calibration"] = self.calibration.to_dict()
        (path / POSTPROCESS_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n",
                                             encoding="utf-8")
        return path / POSTPROCESS_FILE

    @classmethod
    def load(cls, path: str | Path) -> Postprocessor:
        path = Path(path)
        file = path / POSTPROCESS_FILE if path.is_dir() else path
        payload = json.loads(file.read_text(encoding="utf-8"))
        calibration = Calibration.from_dict(payload["calibration"]) if "calibration" in payload else None
        return cls(PostprocessParams.model_validate(payload["settings"]), payload["lexicon"], calibration)
