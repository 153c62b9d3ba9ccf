"""Dataset validation as a Great Expectations suite over the manifest.

Each rule is one expectation with a severity: ``quarantine`` rejects the rows
it flags (listed with their reason), ``fatal`` fails the stage (leakage
between splits), ``report`` only informs (characters outside the vocabulary).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

from ocrops.config import SPLITS, Params
from ocrops.data.images import ImageLimits
from ocrops.data.manifest import ManifestRecord, build_manifest, oov_counter, to_frame
from ocrops.errors import ErrorCode

Severity = Literal["quarantine", "fatal", "report"]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    description: str
    expectation: gxe.Expectation
    code: ErrorCode | None = None
    detail: Callable[[dict], str] = lambda row: ""


@dataclass
class CheckResult:
    rule: str
    severity: Severity
    description: str
    expectation: str
    success: bool
    unexpected: int
    lines: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Vocabulary:
    """What the model family can emit (``chars`` None: any text), and the family's name for the reports."""

    family: str
    chars: frozenset[str] | None = None


@dataclass
class ValidationReport:
    dataset: str
    family: str
    records: list[ManifestRecord]
    checks: list[CheckResult]
    quarantine: list[dict]
    accepted: list[ManifestRecord]
    oov: Counter
    split_sizes: dict[str, int]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def rejected_share(self) -> float:
        return len(self.quarantine) / len(self.records) if self.records else 0.0


def build_rules(params: Params, vocabulary: Vocabulary) -> list[Rule]:
    v = params.validate_
    return [
        Rule("label_unreadable", "quarantine", "labels.jsonl line is UTF-8 JSON with image and text",
             gxe.ExpectColumnValuesToBeInSet(column="label_ok", value_set=[True]),
             ErrorCode.INVALID_INPUT, lambda r: f"{r['label_error']}: {r['label_detail']}"),
        Rule("image_outside_dataset", "quarantine", "image path stays inside the dataset directory",
             gxe.ExpectColumnValuesToBeInSet(column="path_inside", value_set=[True]),
             ErrorCode.INVALID_INPUT, lambda r: f"path {r['image']!r} escapes the dataset"),
        Rule("image_missing", "quarantine", "image file exists",
             gxe.ExpectColumnValuesToBeInSet(column="image_found", value_set=[True]),
             ErrorCode.UNREADABLE_IMAGE, lambda r: f"no file at {r['image']}"),
        Rule("image_unreadable", "quarantine", "image decodes (PNG, JPEG, TIFF, WebP, BMP) and converts to RGB",
             gxe.ExpectColumnValuesToBeInSet(column="decodes", value_set=[True]),
             ErrorCode.UNREADABLE_IMAGE, lambda r: str(r["decode_detail"])),
        Rule("image_decompression_bomb", "quarantine", "header declares a pixel count Pillow accepts",
             gxe.ExpectColumnValuesToBeInSet(column="bomb", value_set=[False]),
             ErrorCode.TOO_LARGE, lambda r: str(r["decode_detail"])),
        Rule("image_too_large", "quarantine", f"longest side <= {v.max_input_side}",
             gxe.ExpectColumnValuesToBeBetween(column="longest_side", min_value=1, max_value=v.max_input_side),
             ErrorCode.TOO_LARGE,
             lambda r: f"{r['width']:.0f}x{r['height']:.0f} exceeds max side {v.max_input_side}"),
        Rule("image_too_many_pixels", "quarantine", f"pixel count <= {v.max_pixels}",
             gxe.ExpectColumnValuesToBeBetween(column="pixels", min_value=1, max_value=v.max_pixels),
             ErrorCode.TOO_LARGE, lambda r: f"{r['width']:.0f}x{r['height']:.0f} exceeds {v.max_pixels} pixels"),
        Rule("brightness_out_of_range", "quarantine",
             f"mean brightness in [{v.min_brightness:g}, {v.max_brightness:g}]",
             gxe.ExpectColumnValuesToBeBetween(column="brightness", min_value=v.min_brightness,
                                               max_value=v.max_brightness),
             ErrorCode.UNREADABLE_IMAGE, lambda r: f"mean brightness {r['brightness']:.1f} (blank or black page)"),
        Rule("label_empty", "quarantine", "label has visible text",
             gxe.ExpectColumnValuesToBeBetween(column="text_len", min_value=1),
             ErrorCode.INVALID_INPUT, lambda r: "empty or whitespace-only text"),
        Rule("label_unrepresentable", "quarantine", "label holds no control or unassigned characters",
             gxe.ExpectColumnValuesToBeBetween(column="bad_char_count", min_value=0, max_value=0),
             ErrorCode.INVALID_INPUT,
             lambda r: "characters no model can emit: " + ", ".join(f"U+{ord(c):04X}" for c in r["bad_chars"])),
        Rule("split_invalid", "quarantine", f"split is one of {', '.join(SPLITS)}",
             gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
             ErrorCode.INVALID_INPUT, lambda r: f"split {r['split']!r}"),
        Rule("duplicate_image", "quarantine", "each image appears once (content hash)",
             gxe.ExpectColumnValuesToBeBetween(column="dup_rank", min_value=0, max_value=0),
             None, lambda r: f"same bytes as line {int(r['dup_of_line'])}"),
        Rule("split_leakage", "fatal", "an image belongs to one split only",
             gxe.ExpectColumnValuesToBeBetween(column="hash_splits", min_value=1, max_value=1)),
        Rule("out_of_vocabulary", "report",
             f"label characters are in the {vocabulary.family} vocabulary (extend it otherwise)",
             gxe.ExpectColumnValuesToBeBetween(column="oov_count", min_value=0, max_value=0)),
    ]


def _run_suite(frame: pd.DataFrame, rules: list[Rule]) -> list[tuple[Rule, bool, list[int]]]:
    """Run the rules as one GX suite; returns each rule with the row ids it flagged."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("manifest")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="ocrops_dataset"))
    for rule in rules:
        rule.expectation.meta = {"rule": rule.name, "severity": rule.severity}
        suite.add_expectation(rule.expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="dataset", data=batch_definition, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]},
    )
    by_rule = {r.expectation_config.meta["rule"]: r for r in result.results}
    outcome = []
    for rule in rules:
        res = by_rule[rule.name]
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(f"rule {rule.name} could not run: {res.exception_info['exception_message']}")
        flagged = [int(item["row_id"]) for item in res.result.get("unexpected_index_list") or []]
        outcome.append((rule, bool(res.success), flagged))
    return outcome


def validate_dataset(dataset: str | Path, params: Params, vocabulary: Vocabulary,
                     progress: bool = True) -> ValidationReport:
    """Measure a dataset, run the suite, and decide which rows are accepted."""
    v = params.validate_
    limits = ImageLimits(max_side=v.max_input_side, max_pixels=v.max_pixels)
    records = build_manifest(dataset, limits, vocabulary.chars, params.data.split, progress=progress)
    return judge(str(dataset), records, build_rules(params, vocabulary), params, vocabulary, "labels.jsonl")


def judge(dataset: str, records: list[ManifestRecord], rules: list[Rule], params: Params, vocabulary: Vocabulary,
          source: str) -> ValidationReport:
    """Run ``rules`` over measured ``records`` (rows of ``source``) and decide which are accepted."""
    v = params.validate_
    frame = to_frame(records)
    rows = frame.to_dict("records")

    checks: list[CheckResult] = []
    reasons: dict[int, list[tuple[Rule, str]]] = {}
    failures: list[str] = []
    for rule, success, flagged in _run_suite(frame, rules) if records else []:
        lines = [records[i].line for i in flagged]
        checks.append(CheckResult(rule.name, rule.severity, rule.description,
                                  rule.expectation.expectation_type, success, len(flagged), lines))
        if rule.severity == "quarantine":
            for row_id in flagged:
                reasons.setdefault(row_id, []).append((rule, rule.detail(rows[row_id])))
        elif rule.severity == "fatal" and not success:
            shown = ", ".join(
                f"line {records[i].line} ({records[i].image}, split {records[i].split})" for i in flagged[:5]
            )
            failures.append(f"{rule.name}: {len(flagged)} rows share an image with another split, first: {shown}")

    quarantine = [_quarantine_entry(records[row_id], found) for row_id, found in sorted(reasons.items())]
    accepted = [rec for rec in records if rec.row_id not in reasons]
    split_sizes = {s: sum(1 for r in accepted if r.split == s) for s in SPLITS}
    small = {s: n for s, n in split_sizes.items() if n < v.min_rows_per_split}
    checks.append(CheckResult("split_sizes", "report", f"each split holds >= {v.min_rows_per_split} accepted rows",
                              "ocrops_split_sizes", not small, len(small)))

    share = len(quarantine) / len(records) if records else 0.0
    if not records:
        failures.append(f"{dataset}: {source} holds no rows")
    if share > v.max_rejected_share:
        first = ", ".join(f"line {q['line']} ({q['reason']}: {q['detail']})" for q in quarantine[:5])
        failures.append(
            f"{len(quarantine)} of {len(records)} rows rejected ({share:.1%} > max_rejected_share "
            f"{v.max_rejected_share:.1%}); first: {first}"
        )
    return ValidationReport(
        dataset=dataset, family=vocabulary.family, records=records, checks=checks,
        quarantine=quarantine, accepted=accepted, oov=oov_counter(accepted),
        split_sizes=split_sizes, failures=failures,
    )


def _quarantine_entry(rec: ManifestRecord, found: list[tuple[Rule, str]]) -> dict[str, Any]:
    primary, detail = found[0]
    return {
        "line": rec.line,
        "image": rec.image,
        "text": rec.text,
        "split": rec.split,
        "reason": primary.name,
        "code": int(primary.code) if primary.code is not None else None,
        "detail": detail,
        "reasons": [rule.name for rule, _ in found],
    }
