"""The ablation's bookkeeping: each variant trains into its own folder and experiment, and the choice keeps to
the limits (domain test CER, guard rise over the base model, training time)."""

from __future__ import annotations

from pathlib import Path

from conftest import PROJECT
from ocrops.config import load_params
from ocrops.experiments.ablation import best, load_variants, markdown, variant_params


def _report() -> dict:
    def row(test: float, guard: float, minutes: float, **overrides) -> dict:
        return {"overrides": overrides, "test_cer": test, "guard_cer": guard, "train_minutes": minutes,
                "epochs_run": 3, "best_epoch": 3}

    return {"base": {"test_cer": 0.15, "guard_cer": 0.0541, "sets": {"guard": {"lines": 688}}},
            "variants": {"default": row(0.0024, 0.0678, 8.8),  # best domain CER, but it forgot
                         "slow": row(0.0020, 0.0300, 21.0, distill=1.0),  # too slow
                         "body": row(0.0033, 0.0432, 9.2, backbone_lr_scale=0.1),
                         "mixin": row(0.0026, 0.0222, 14.9, general_source="both"),
                         "weak": row(0.0070, 0.0100, 5.0)}}  # forgets nothing, learns too little


def test_the_choice_keeps_to_every_limit() -> None:
    report = _report()
    assert best(report, max_test_cer=0.005, max_rise_points=0.1) == "mixin"
    assert best(report, max_test_cer=0.005, max_rise_points=0.1, max_minutes=10) == "body"
    assert best(report, max_test_cer=0.005, max_rise_points=0.1, max_minutes=30) == "slow"
    assert best(report, max_test_cer=0.001, max_rise_points=0.1) is None


def test_the_table_shows_each_variant_against_the_base() -> None:
    report = _report() | {"chosen": "mixin"}
    table = markdown(report)
    assert "| base model (no training) | | 15.00 % | 5.41 % |" in table
    assert "| base model (no training) | | 15.00 % | 5.41 % | | | |" in table
    # the last column is what `ocrops promote`'s guard rule would say of the variant
    assert ("| default | (params.yaml) | 0.24 % | 6.78 % | +1.37 pts | 8.8 min, 3 epochs | refused: forgot general "
            "reading |") in table
    assert ("| mixin **chosen** | general_source=both | 0.26 % | 2.22 % | -3.19 pts | 14.9 min, 3 epochs | "
            "passes |") in table


def test_a_variant_trains_into_its_own_folder_and_experiment(tmp_path: Path) -> None:
    params = load_params(PROJECT / "params.yaml")
    variants = load_variants(PROJECT / "recipes" / "ablation.yaml")
    varied = variant_params(params, "l2sp", variants["l2sp"], work=tmp_path)
    assert varied.train.l2sp == 0.01 and varied.train.weight_decay == 0.0
    assert varied.train.epochs == params.train.epochs  # everything else as params.yaml says
    assert varied.paths.train.model == tmp_path / "l2sp" / "model"
    assert varied.paths.train.checkpoints.parent == tmp_path / "l2sp"
    assert all(Path(v).is_relative_to(tmp_path / "l2sp") for v in varied.paths.train.model_dump().values())
    assert varied.mlflow.experiment == f"{params.mlflow.experiment}-ablation"
    assert varied.paths.validate_.accepted == params.paths.validate_.accepted  # the pipeline's data
