"""Registering a challenger (model/registration.py), called directly: no pipeline, no KFP."""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd
import pytest

from mlcycle.config import DatasetConfig
from mlcycle.model.registration import Candidate, gate_challenger, register_candidate
from mlcycle.model.registry import Registry
from mlcycle.model.version import ModelVersion

# A fitted breast-cancer pipeline (logistic regression), as main registered it at a1f9801.
OLD = Path(__file__).parents[1] / "data/registry-a1f9801/models/versions/20261202-060209-8656e5"
CLEANING = {
    "dropped_columns": ["id"],
    "dropped_duplicate_rows": 0,
    "dropped_unlabelled_rows": 0,
    "missing_values_left_for_imputation": {},
    "rows_in": 569,
    "rows_out": 569,
}
METRICS = {"roc_auc": 0.995, "accuracy": 0.97, "precision": 0.97, "recall": 0.96, "f1": 0.96}


def _candidate(config: DatasetConfig, frame: pd.DataFrame, **evaluation: object) -> Candidate:
    model_bytes = (OLD / "model.joblib").read_bytes()
    cleaned = frame.drop(columns=config.drop_columns)
    types = {c: "numeric" for c in cleaned.columns if c != config.label}
    return Candidate(
        config=config,
        types=types,
        model=joblib.load(OLD / "model.joblib"),
        model_bytes=model_bytes,
        cleaned=cleaned,
        test=cleaned.sample(60, random_state=0),
        evaluation={
            "metrics": {**METRICS, "brier": 0.02},
            "champion": None,
            "classes": ["benign", "malignant"],
            "confusion": [[40, 1], [1, 18]],
            "test_rows": 60,
            **evaluation,
        },
        training={"chosen": "logistic_regression", "scoring": "roc_auc", "candidates": []},
        validation={"warnings": [], "info": {"rows": len(frame)}},
        cleaning=CLEANING,
        lineage={"data_hash": "d" * 64, "pipeline_run": "unit"},
        images={"roc_curve.png": b"\x89PNG roc"},
    )


def test_a_first_challenger_is_registered_whole_and_promoted(
    tmp_path: Path, config: DatasetConfig, bc_frame: pd.DataFrame
) -> None:
    registry = Registry(str(tmp_path))
    summary, report = register_candidate(registry, _candidate(config, bc_frame), None)
    assert summary.registered and summary.promoted and not summary.lost
    assert summary.champion == summary.version == registry.champion_version()
    assert summary.gate.reasons[-1] == "no champion yet"
    assert summary.candidate == "logistic_regression"
    meta = registry.get(summary.version)
    assert isinstance(meta, ModelVersion) and meta.gate == summary.gate
    assert meta.artifacts == ["model.joblib", "model.onnx", "report.html", "roc_curve.png"]
    assert meta.onnx == summary.onnx and meta.onnx.exported and meta.onnx.rows_checked == 60
    assert meta.feature_schema.label == "diagnosis" and len(meta.feature_schema.features) == 30
    assert meta.feature_schema.positive_class == "malignant"
    assert meta.lineage.parameters["name"] == config.name and meta.lineage.pipeline_run == "unit"
    assert meta.data.cleaning.to_json() == CLEANING
    assert meta.evaluation.test_rows == 60 and meta.champion_at_evaluation is None
    assert summary.version.encode() in report and report == registry.read_artifact(
        summary.version, "report.html"
    )


def test_the_same_model_again_is_not_registered_twice(
    tmp_path: Path, config: DatasetConfig, bc_frame: pd.DataFrame
) -> None:
    registry = Registry(str(tmp_path))
    first, _ = register_candidate(registry, _candidate(config, bc_frame), None)
    champion = {"version": first.version, "metrics": {**METRICS, "brier": 0.02}}
    again, report = register_candidate(
        registry, _candidate(config, bc_frame, champion=champion), first.version
    )
    assert not again.registered and again.version == first.version
    assert not again.promoted and "ties keep the champion" in again.gate.reasons[-1]
    assert [m.version for m in registry.versions()] == [first.version]
    assert first.version.encode() in report


def test_a_champion_that_changed_since_the_run_started_is_not_replaced(
    tmp_path: Path, config: DatasetConfig, bc_frame: pd.DataFrame
) -> None:
    registry = Registry(str(tmp_path))
    other, _ = register_candidate(registry, _candidate(config, bc_frame), None)
    # This run started with no champion; another run promoted `other` meanwhile.
    candidate = _candidate(config, bc_frame.sample(frac=1.0, random_state=1))
    candidate.model_bytes += b"\n"  # another model file: a new version
    summary, _ = register_candidate(registry, candidate, None)
    assert summary.registered and summary.lost and not summary.promoted
    assert registry.champion_version() == other.version == summary.champion
    recorded = registry.get(summary.version).gate
    assert (
        recorded.decision == "rejected"
        and "the champion changed during this run" in (recorded.reasons[-1])
    )


def test_a_stopped_run_registers_nothing(
    tmp_path: Path, config: DatasetConfig, bc_frame: pd.DataFrame
) -> None:
    registry = Registry(str(tmp_path))

    def stopped() -> None:
        raise SystemExit("the run is gone")

    with pytest.raises(SystemExit):
        register_candidate(registry, _candidate(config, bc_frame), None, before_write=stopped)
    assert registry.versions() == [] and registry.champion_version() is None


def test_the_gate_refuses_when_the_champion_moved(
    config: DatasetConfig, bc_frame: pd.DataFrame
) -> None:
    candidate = _candidate(config, bc_frame)
    gate, lost = gate_challenger(candidate, None, None)
    assert gate.promote and gate.decision == "promoted" and not lost
    gate, lost = gate_challenger(candidate, "a", "b")
    assert lost and not gate.promote and gate.decision == "rejected"
    assert gate.reasons[-1].startswith("the champion changed during this run (a -> b)")


def test_a_version_keeps_the_reference_statistics_of_its_training_split(
    tmp_path: Path, config: DatasetConfig, bc_frame: pd.DataFrame
) -> None:
    from mlcycle.model.reference import REFERENCE_FILE, Reference

    registry = Registry(str(tmp_path))
    candidate = _candidate(config, bc_frame)
    candidate.train = candidate.cleaned.sample(400, random_state=1)
    summary, _ = register_candidate(registry, candidate, None)
    meta = registry.get(summary.version)
    assert REFERENCE_FILE in meta.artifacts
    reference = Reference.model_validate_json(registry.read_artifact(meta.version, REFERENCE_FILE))
    assert reference.rows == 400 and reference.bins == config.drift.bins
    assert [f.name for f in reference.features] == meta.feature_schema.feature_names()
    radius = reference.feature("mean_radius")
    assert radius.mean == pytest.approx(candidate.train["mean_radius"].mean())
    assert len(radius.edges) == config.drift.bins - 1
