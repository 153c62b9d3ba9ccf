"""The promotion gate: ``champion`` moves to a version only if it is no worse than the current champion on
the same test set and has not forgotten general reading (guard CER, params ``promote``), or anyway with
``--force`` (the override is tagged on the version)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ocrops.config import Params
from ocrops.errors import ErrorCode, OcropsError
from ocrops.evaluation.records import figure, shared
from ocrops.registry.versions import CHAMPION, refresh_description
from ocrops.tracking import setup

OVERRIDE_TAG = "promotion.override"


@dataclass
class Decision:
    version: str
    allowed: bool
    reasons: list[str]
    champion: str | None = None
    forced: bool = False


def gate(candidate: dict[str, str], champion: dict[str, str] | None, params: Params,
         versions: tuple[str, str] = ("VERSION", "CHAMPION")) -> list[str]:
    """Why ``candidate`` may not replace ``champion`` (tags of both versions; ``versions``: their numbers, for
    the commands a refusal names); empty when it may. Test figures are compared on a test set both were read
    on: the one either was registered with, or one ``ocrops evaluate`` read them on later."""
    p, reasons = params.promote, []
    needed = ("test_cer_postprocessed", "test_set_digest", "latency_p50_ms")
    missing = [k for k in needed if k not in candidate]
    if missing:
        return [f"the version carries no {', '.join(missing)} tag: register it with the register stage "
                "(dvc repro register), which evaluates it first"]
    latency = figure(candidate, "latency_p50_ms")
    if latency is not None and latency > p.max_latency_ms:
        reasons.append(f"latency p50 {latency:.1f} ms exceeds the budget of {p.max_latency_ms:g} ms "
                       "(promote.max_latency_ms)")
    reasons += forgetting_reasons(candidate, champion, p.max_guard_cer_rise, p.max_guard_cer_rise_champion)
    if champion is None:
        return reasons
    both = shared(candidate, champion)
    if both is None:
        return reasons + [
            f"evaluated on a different test set than the champion (test set {candidate['test_set_digest'][:12]} "
            f"vs {str(champion.get('test_set_digest'))[:12]}): read both on one test set with `ocrops evaluate "
            f"{versions[1]}` (the champion on the current test split; `ocrops evaluate {versions[0]}` too if this "
            "version was registered on another), then promote again"]
    mine, theirs = both
    cer, best = mine.cer_postprocessed, theirs.cer_postprocessed
    on = f" on {mine.name} ({mine.lines} lines)"
    if cer is not None and best is not None and cer > best + p.cer_tolerance:
        reasons.append(f"test CER {100 * cer:.2f}% is worse than the champion's {100 * best:.2f}%{on} "
                       f"(tolerance {100 * p.cer_tolerance:.2f} points)")
    recall, best_recall = mine.term_recall_postprocessed, theirs.term_recall_postprocessed
    if recall is not None and best_recall is not None and recall < best_recall - p.term_recall_tolerance:
        reasons.append(f"term recall {100 * recall:.2f}% is below the champion's {100 * best_recall:.2f}%{on} "
                       f"(tolerance {100 * p.term_recall_tolerance:.2f} points)")
    return reasons


def forgetting_reasons(candidate: dict[str, str], champion: dict[str, str] | None, rise: float,
                       rise_champion: float) -> list[str]:
    """Refusals for general reading lost: guard CER (real scanned lines) more than ``rise`` points above the base
    model's, or more than ``rise_champion`` above the champion's on the same guard set. The base model reads the
    guard set the same way every time; the champion is one draw of a training, and a retraining that differs only
    in its seed lands a few tenths of a point away, hence its own, wider, tolerance."""
    guard, base = figure(candidate, "guard_cer"), figure(candidate, "base_guard_cer")
    if guard is None or base is None:
        return []  # evaluated without a guard set: nothing to hold it to
    lines, reasons = candidate.get("guard_set_lines", "?"), []
    if 100 * (guard - base) > rise:
        reasons.append(f"guard CER {100 * guard:.2f}% is {100 * (guard - base):.2f} points above the base model's "
                       f"{100 * base:.2f}% on the {lines} lines of the guard set (promote.max_guard_cer_rise "
                       f"{rise:g} points): the adaptation has forgotten general reading")
    best = figure(champion or {}, "guard_cer")
    same_set = champion is not None and champion.get("guard_set_digest") == candidate.get("guard_set_digest")
    if best is not None and same_set and 100 * (guard - best) > rise_champion:
        reasons.append(f"guard CER {100 * guard:.2f}% is {100 * (guard - best):.2f} points above the champion's "
                       f"{100 * best:.2f}% (promote.max_guard_cer_rise_champion {rise_champion:g} points)")
    return reasons


def promote(params: Params, version: str, force: bool = False, alias: str = CHAMPION) -> Decision:
    """Set ``alias`` (champion) on ``version`` if the gate allows it, or anyway with ``force`` (tagged)."""
    setup(params)
    client, name = MlflowClient(), params.mlflow.registered_model
    try:
        candidate = client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise OcropsError(ErrorCode.INVALID_INPUT,
                          f"registered model {name!r} has no version {version!r} at {mlflow.get_tracking_uri()}"
                          ) from exc
    try:
        current = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        current = None
    if current is not None and str(current.version) == str(candidate.version):
        return Decision(str(version), True, [f"version {version} already holds '{alias}'"], str(current.version))
    reasons = gate(candidate.tags, current.tags if current else None, params,
                   (str(candidate.version), str(current.version) if current else ""))
    decision = Decision(str(version), not reasons, reasons, str(current.version) if current else None)
    if reasons and not force:
        return decision
    client.set_registered_model_alias(name, alias, str(version))
    if reasons:
        decision.allowed, decision.forced = True, True
        client.set_model_version_tag(name, str(version), OVERRIDE_TAG, json.dumps(
            {"alias": alias, "replaced": decision.champion, "reasons": reasons}, ensure_ascii=False))
    for changed in {str(version), decision.champion} - {None}:  # their pages compare with the champion
        refresh_description(client, name, str(changed))
    return decision
