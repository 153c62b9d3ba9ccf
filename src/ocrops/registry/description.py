"""A registered version's description: the Markdown MLflow shows at the top of the version page, so a person
deciding a promotion in the UI sees the headline figures, where they were measured, and how the version
compares with the champion, without scrolling through tags."""

from __future__ import annotations

from ocrops.evaluation.records import evaluations, figure, shared


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def _change(mine: float | None, theirs: float | None, lower_is_better: bool = True) -> str:
    if mine is None or theirs is None:
        return "–"
    points = 100 * (mine - theirs)
    if abs(points) < 0.005:
        return "same"
    better = points < 0 if lower_is_better else points > 0
    return f"{points:+.2f} points ({'better' if better else 'worse'})"


def headline_table(tags: dict[str, str]) -> list[str]:
    """The figures a version is judged by, measured at registration on its own test set."""
    rows = [
        ("Domain test CER (raw)", _pct(figure(tags, "test_cer")), _pct(figure(tags, "base_test_cer"))),
        ("Domain test CER (post-processed)", _pct(figure(tags, "test_cer_postprocessed")), ""),
        ("Term recall (post-processed)", _pct(figure(tags, "test_term_recall_postprocessed")), ""),
        ("Exact-match lines", _pct(figure(tags, "test_exact_match")), ""),
        ("Guard CER (real scans)", _pct(figure(tags, "guard_cer")), _pct(figure(tags, "base_guard_cer"))),
        ("Latency per line p50 / p95", f"{_ms(figure(tags, 'latency_p50_ms'))} / {_ms(figure(tags, 'latency_p95_ms'))}",
         ""),
        ("Lines/s (batched)", "–" if figure(tags, "test_lines_per_s") is None
         else f"{figure(tags, 'test_lines_per_s'):.1f}", ""),
    ]
    lines = ["| Figure | This version | Base model |", "|---|---|---|"]
    return lines + [f"| {name} | **{mine}** | {base} |" for name, mine, base in rows] + review(tags)


def review(tags: dict[str, str]) -> list[str]:
    """The calibrated confidence's review threshold tau and what it does on the test split."""
    tau = figure(tags, "review_threshold")
    if tau is None:
        return []
    target = figure(tags, "review_target_exact") or 0.99
    return ["", f"Lines answered with confidence under **tau = {tau:.3f}** carry `needs_review` (on validation, "
                f"lines at or above it are exact at least {100 * target:g} % of the time): "
                f"{_pct(figure(tags, 'test_share_needs_review'))} of the test lines. Confidence calibration "
                f"error (ECE) on the test split: {figure(tags, 'test_ece_raw') or 0:.4f} raw, "
                f"**{figure(tags, 'test_ece_calibrated') or 0:.4f}** calibrated."]


def provenance(tags: dict[str, str]) -> list[str]:
    guard = (f"; guard set: {tags['guard_set_lines']} real scanned lines, digest `{tags['guard_set_digest'][:12]}`"
             if "guard_set_digest" in tags else "")
    return [
        f"Measured on **{tags.get('test_set_name', 'the test split')}**: {tags.get('test_set_lines', '?')} lines, "
        f"digest `{tags.get('test_set_digest', '?')[:12]}`{guard}.",
        f"Data `{tags.get('data_dvc_md5', '?')[:12]}` (DVC), code `{tags.get('mlflow.source.git.commit', '?')[:12]}` "
        f"(git), family `{tags.get('family', '?')}`.",
    ]


def versus_champion(version: str, tags: dict[str, str], champion: str | None,
                    champion_tags: dict[str, str] | None) -> list[str]:
    """What changed versus the current champion, on a test set both were read on."""
    if champion is None or champion_tags is None:
        return ["No version holds `champion` yet."]
    if champion == version:
        return ["This version is the `champion`."]
    both = shared(tags, champion_tags)
    if both is None:
        return [f"The champion (version {champion}) was evaluated on another test set: "
                f"`ocrops evaluate {champion}` reads it on the current test split, `ocrops evaluate {version}` "
                "reads this one there, and both become comparable."]
    mine, theirs = both
    lines = [f"Versus the champion (version {champion}) on {mine.name} ({mine.lines} lines, "
             f"digest `{mine.digest[:12]}`):", "",
             "| Figure | This version | Champion | Change |", "|---|---|---|---|",
             f"| CER (post-processed) | {_pct(mine.cer_postprocessed)} | {_pct(theirs.cer_postprocessed)} | "
             f"{_change(mine.cer_postprocessed, theirs.cer_postprocessed)} |",
             f"| Term recall (post-processed) | {_pct(mine.term_recall_postprocessed)} | "
             f"{_pct(theirs.term_recall_postprocessed)} | "
             f"{_change(mine.term_recall_postprocessed, theirs.term_recall_postprocessed, False)} |"]
    if mine.reviewed_cer is not None and theirs.reviewed_cer is not None:
        lines.append(f"| CER, the {mine.reviewed_lines} reviewed lines | {_pct(mine.reviewed_cer)} | "
                     f"{_pct(theirs.reviewed_cer)} | {_change(mine.reviewed_cer, theirs.reviewed_cer)} |")
    guard, best = figure(tags, "guard_cer"), figure(champion_tags, "guard_cer")
    if guard is not None and best is not None and tags.get("guard_set_digest") == champion_tags.get(
            "guard_set_digest"):
        lines.append(f"| Guard CER (real scans) | {_pct(guard)} | {_pct(best)} | {_change(guard, best)} |")
    return lines


def other_test_sets(tags: dict[str, str]) -> list[str]:
    rows = evaluations(tags)
    if not rows:
        return []
    lines = ["", "**Also evaluated on** (`ocrops evaluate`):", "",
             "| Test set | Lines | Digest | CER (raw) | CER (post-processed) | Term recall | Evaluated |",
             "|---|---|---|---|---|---|---|"]
    return lines + [f"| {f.name} | {f.lines} | `{f.digest[:12]}` | {_pct(f.cer)} | {_pct(f.cer_postprocessed)} | "
                    f"{_pct(f.term_recall_postprocessed)} | {f.evaluated} |" for f in rows]


def describe(version: str, tags: dict[str, str], champion: str | None = None,
             champion_tags: dict[str, str] | None = None) -> str:
    """The version page's Markdown: headline table, provenance, re-evaluations, versus the champion."""
    parts = [*headline_table(tags), "", *provenance(tags), *other_test_sets(tags), "",
             *versus_champion(version, tags, champion, champion_tags), "",
             "Promote with `ocrops promote " + version + "` (the gate compares it with the champion on one test "
             "set), or set the alias `champion` here. MLflow's *Promote model* button copies the version to "
             "another registered model: it does not deploy anything."]
    return "\n".join(parts) + "\n"
