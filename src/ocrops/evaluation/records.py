"""A version's figures per test set. The figures measured at registration are the version's headline tags
(``test_cer``, ``test_set_digest`` ...); each later reading on another test set (``ocrops evaluate``) is one
tag ``evaluation.<digest[:12]>`` holding JSON. Two versions are comparable on any test set both carry."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

PREFIX = "evaluation."


@dataclass(frozen=True)
class Figures:
    """One version read on one test set."""

    name: str
    digest: str
    lines: int
    cer: float | None
    cer_postprocessed: float | None
    term_recall_postprocessed: float | None
    exact_match: float | None = None
    evaluated: str = "at registration"
    reviewed_lines: int = 0  # lines of the test set that came from review (``ocrops review pull``)
    reviewed_cer: float | None = None

    def tag(self) -> tuple[str, str]:
        """The tag that records these figures on a version."""
        return PREFIX + self.digest[:12], json.dumps(asdict(self), sort_keys=True)


def figure(tags: dict[str, str], key: str) -> float | None:
    """A version's numeric tag, or None when it is absent or not a number."""
    try:
        return float(tags[key])
    except (KeyError, ValueError):
        return None


def registered_figures(tags: dict[str, str]) -> Figures | None:
    """The figures of the version's own test set, from its headline tags."""
    if "test_set_digest" not in tags:
        return None
    return Figures(name=tags.get("test_set_name", "its test split"), digest=tags["test_set_digest"],
                   lines=int(tags.get("test_set_lines", 0)), cer=figure(tags, "test_cer"),
                   cer_postprocessed=figure(tags, "test_cer_postprocessed"),
                   term_recall_postprocessed=figure(tags, "test_term_recall_postprocessed"),
                   exact_match=figure(tags, "test_exact_match"), reviewed_lines=int(tags.get("reviewed_lines", 0)),
                   reviewed_cer=figure(tags, "reviewed_cer"))


def evaluations(tags: dict[str, str]) -> list[Figures]:
    """Readings on other test sets, as ``ocrops evaluate`` recorded them (malformed tags are skipped)."""
    found = []
    for key, value in sorted(tags.items()):
        if not key.startswith(PREFIX):
            continue
        try:
            found.append(Figures(**json.loads(value)))
        except (TypeError, ValueError):
            continue
    return found


def figures_on(tags: dict[str, str], digest: str) -> Figures | None:
    """The version's figures on the test set ``digest``, or None if it was never read on it."""
    own = registered_figures(tags)
    if own is not None and own.digest == digest:
        return own
    return next((f for f in evaluations(tags) if f.digest == digest), None)


def shared(tags: dict[str, str], other: dict[str, str]) -> tuple[Figures, Figures] | None:
    """Both versions' figures on one test set they were both read on (this version's own first), or None."""
    own = [tags.get("test_set_digest"), other.get("test_set_digest")]
    others = [f.digest for f in evaluations(tags)]
    for digest in [d for d in own if d] + others:
        mine, theirs = figures_on(tags, digest), figures_on(other, digest)
        if mine is not None and theirs is not None:
            return mine, theirs
    return None
