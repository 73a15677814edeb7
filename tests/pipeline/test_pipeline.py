"""The real pipeline, run through kfp.local on small data: what `mlcycle run` promises."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlcycle.config import load_config
from mlcycle.model.registry import Registry
from mlcycle.pipeline.inprocess import run_in_process
from mlcycle.pipeline.local import STEPS, run_pipeline
from support import roc_auc_on

pytestmark = pytest.mark.slow


def test_first_run_trains_and_promotes_a_champion(trained_root: Path) -> None:
    registry = Registry(str(trained_root))
    champion = registry.champion()
    assert champion is not None
    assert champion.metrics["roc_auc"] >= 0.99
    assert champion.metrics["recall"] >= 0.95
    assert champion.gate.decision == "promoted"
    assert (trained_root / "data/incoming/sklearn_breast_cancer.csv").exists()
    seeded = pd.read_csv(trained_root / "data/incoming/sklearn_breast_cancer.csv")
    assert set(seeded.diagnosis) == {"benign", "malignant"} and len(seeded) == 569
    # Everything a version promises, written before the pointer.
    assert {"model.joblib", "roc_curve.png", "confusion_matrix.png", "report.html"} <= set(
        champion.artifacts
    )
    report = (trained_root / "models/versions" / champion.version / "report.html").read_text()
    assert champion.version in report and f"{champion.metrics['roc_auc']:.4f}" in report
    assert report.count("data:image/png;base64,") == 3  # ROC, confusion, reliability
    lineage = champion.lineage
    assert len(lineage.data_hash) == 64
    assert lineage.pipeline_run.startswith("mlcycle-training-")
    assert lineage.snapshot_uri.endswith("/ingest/snapshot")
    assert lineage.parameters["seed"] == 42
    assert {"scikit-learn", "pandas", "python"} <= set(lineage.libraries)
    schema = champion.feature_schema
    assert len(schema.features) == 30 and "id" not in schema.feature_names()
    assert set(schema.examples) == {"benign", "malignant"}
    assert {c.name for c in champion.training.candidates} == {
        "logistic_regression",
        "gradient_boosting",
    }


def _recorded_lineage(root: Path, version: str) -> dict:
    """A version's lineage as its metadata.json holds it."""
    return json.loads((root / "models/versions" / version / "metadata.json").read_text())["lineage"]


def test_in_process_runs_the_same_steps_and_records_the_same_lineage(
    trained_root: Path, tmp_path: Path, config
) -> None:
    # The API and UI suites train through the in-process runner: its versions must say
    # where they came from as a kfp.local run's do.
    timings: dict[str, float] = {}
    summary = run_in_process(str(tmp_path / "root"), config, tmp_path / "work", timings)
    ours = _recorded_lineage(tmp_path / "root", summary["version"])
    theirs = _recorded_lineage(trained_root, Registry(str(trained_root)).champion_version())
    assert set(ours) == set(theirs)
    assert {k: ours[k] for k in ("git_commit", "code_version", "libraries", "parameters")} == {
        k: theirs[k] for k in ("git_commit", "code_version", "libraries", "parameters")
    }
    assert ours["pipeline_run"] == "in-process"
    assert ours["snapshot_uri"] == str(tmp_path / "work/ingest/snapshot")
    assert ours["data_hash"] == theirs["data_hash"]  # the same seeded data
    # The same steps, in the same order, each writing to <run>/<step>/ as kfp.local does.
    assert tuple(timings) == STEPS
    (run_dir,) = (p for p in (trained_root / "pipeline").glob("mlcycle-training-*") if p.is_dir())
    assert {p.name for p in run_dir.iterdir() if p.is_dir()} == set(STEPS)
    assert {p.name for p in (tmp_path / "work").iterdir()} == set(STEPS)


def test_in_process_can_stop_after_the_split(tmp_path: Path, config, bc_frame) -> None:
    # bench/operating_point.py studies the pipeline's own training split, nothing trained.
    counts = run_in_process(str(tmp_path / "root"), config, tmp_path / "work", until="split")
    assert counts == {"train_rows": 455, "test_rows": 114}
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == sorted(STEPS[:4])
    assert STEPS[3] == "split" and not (tmp_path / "root" / "models").exists()


def test_rerun_is_cached_and_keeps_the_champion_new_data_is_not(champion_root, config, bc_frame):
    registry = Registry(str(champion_root))
    before = registry.champion_version()
    first = run_pipeline(str(champion_root), config)
    assert first.ok
    # The champion is an input of validate and evaluate; the data-only steps come from cache
    # after the first run in this root, and nothing at all is recomputed the time after.
    second = run_pipeline(str(champion_root), config)
    assert second.ok
    cacheable = [s for s in STEPS if s != "register"]
    assert {s: second.steps[s] for s in cacheable} == dict.fromkeys(cacheable, "cached")
    assert second.registration["registered"] is False
    assert second.registration["promoted"] is False
    assert registry.champion_version() == before
    assert len(registry.versions()) == 1
    assert any("ties keep the champion" in r for r in second.registration["gate"]["reasons"])

    extra = bc_frame.sample(40, random_state=1).assign(id=lambda f: f.id + 10_000)
    extra.assign(mean_radius=extra.mean_radius * 1.01).to_csv(
        champion_root / "data/incoming/more.csv", index=False
    )
    third = run_pipeline(str(champion_root), config)
    assert third.ok
    assert third.steps["ingest"] == "done"
    assert third.steps["train"] == "done"  # 40 new rows: a new model, registered
    assert third.registration["registered"] is True
    assert len(registry.versions()) == 2


BAD_CASES = {  # name -> (rejecting step, rule)
    "empty": ("ingest", "unreadable_file"),
    "binary": ("ingest", "unreadable_file"),
    "not_utf8": ("ingest", "unreadable_file"),
    "missing_feature": ("validate", "missing_column"),
    "wrong_type": ("validate", "wrong_type"),
    "all_missing": ("validate", "not_all_missing"),
    "out_of_range": ("validate", "in_range"),
    "label_missing": ("validate", "missing_label"),
}


def _bad_content(case: str, frame: pd.DataFrame) -> bytes | pd.DataFrame:
    frame = frame.reset_index(drop=True)
    if case == "empty":
        return b""
    if case == "binary":
        return bytes(range(256)) * 8
    if case == "not_utf8":
        return "diagnosis,mean_radius\nb\xe9nin,1\n".encode("latin-1")
    if case == "missing_feature":
        return frame.drop(columns=["mean_radius"])
    if case == "wrong_type":
        frame = frame.astype({"mean_area": object})
        frame.loc[:5, "mean_area"] = "large"
        return frame
    if case == "all_missing":
        return frame.assign(mean_texture=np.nan)
    if case == "out_of_range":
        frame.loc[:3, "worst_radius"] = 5_000.0
        return frame
    assert case == "label_missing"
    return frame.drop(columns=["diagnosis"])


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_upload_is_rejected_and_the_champion_untouched(case, champion_root, config, bc_frame):
    step, rule = BAD_CASES[case]
    content = _bad_content(case, bc_frame.sample(50, random_state=7))
    path = champion_root / "data/incoming" / f"upload_{case}.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        content.to_csv(path, index=False)
    registry = Registry(str(champion_root))
    before = (registry.champion_pointer(), len(registry.versions()))
    result = run_pipeline(str(champion_root), config)
    assert not result.ok
    assert result.failed_step == step
    assert rule in {i.rule for i in result.rejection.errors}, result.rejection.render()
    text = result.rejection.render()
    assert "REJECTED" in text
    if step == "ingest":
        assert path.name in text
    assert (registry.champion_pointer(), len(registry.versions())) == before
    # Only the upload at fault leaves incoming, with its report: the next upload can train.
    incoming = champion_root / "data/incoming"
    assert [p.name for p in incoming.iterdir()] == ["sklearn_breast_cancer.csv"]
    assert (champion_root / "data/rejected" / f"{path.name}.report.json").is_file()
    assert result.rejection.info["quarantined"] == [
        {"file": path.name, "to": str(champion_root / "data/rejected" / path.name)}
    ]


def test_single_class_upload_is_rejected(champion_root, config, bc_frame) -> None:
    (champion_root / "data/incoming/sklearn_breast_cancer.csv").unlink()
    bc_frame[bc_frame.diagnosis == "benign"].to_csv(
        champion_root / "data/incoming/benign_only.csv", index=False
    )
    before = Registry(str(champion_root)).champion_pointer()
    result = run_pipeline(str(champion_root), config)
    assert result.failed_step == "validate"
    assert "single_class" in {i.rule for i in result.rejection.errors}
    assert Registry(str(champion_root)).champion_pointer() == before
    # No file is at fault on its own: nothing is moved.
    assert (champion_root / "data/incoming/benign_only.csv").is_file()
    assert result.rejection.info["quarantined"] == []


def test_extra_columns_warn_are_dropped_and_change_nothing(champion_root, config, bc_frame):
    bc_frame.head(30).assign(scanner="x").to_csv(
        champion_root / "data/incoming/with_extra.csv", index=False
    )
    before = Registry(str(champion_root)).champion_version()
    result = run_pipeline(str(champion_root), config)
    assert result.ok
    assert [(w["rule"], w["column"]) for w in result.registration["warnings"]] == [
        ("unknown_column", "scanner")
    ]
    # Only duplicates of known rows were added: same table, same model, same champion.
    assert result.registration["registered"] is False
    assert Registry(str(champion_root)).champion_version() == before


def test_multiclass_categorical_missing_values_through_config_alone(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 400
    grade = rng.choice(["I", "II", "III"], n, p=[0.4, 0.35, 0.25])
    level = {"I": 0.0, "II": 1.5, "III": 3.0}
    frame = pd.DataFrame(
        {
            "patient": np.arange(n),
            "size_mm": [level[g] + rng.normal(0, 0.7) for g in grade],
            "site": np.where(
                grade == "III",
                rng.choice(["lung", "liver"], n),
                rng.choice(["skin", "lung", "bone"], n),
            ),
            "smoker": rng.choice(["yes", "no"], n),
            "grade": grade,
        }
    )
    frame.loc[rng.choice(n, 40, replace=False), "size_mm"] = np.nan
    frame.loc[rng.choice(n, 30, replace=False), "site"] = None
    incoming = tmp_path / "root/data/incoming"
    incoming.mkdir(parents=True)
    frame.to_csv(incoming / "tumours.csv", index=False)
    config_path = tmp_path / "grades.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "name": "grades",
                "label": "grade",
                "drop_columns": ["patient"],
                "column_types": {"smoker": "categorical"},
                "cv_folds": 3,
                "candidates": [
                    {
                        "name": "linear",
                        "estimator": "logistic_regression",
                        "params": {"max_iter": 500},
                        "grid": {"C": [0.1, 1.0]},
                    },
                    {
                        "name": "trees",
                        "estimator": "hist_gradient_boosting",
                        "params": {"max_iter": 50},
                        "grid": {"learning_rate": [0.1]},
                    },
                ],
                "gate": {"primary_metric": "f1", "thresholds": {"roc_auc": 0.75}},
            }
        )
    )
    result = run_pipeline(str(tmp_path / "root"), load_config(config_path))
    assert result.ok, Path(result.log_path).read_text()[-2000:]
    champion = Registry(str(tmp_path / "root")).champion()
    assert champion is not None
    assert champion.feature_schema.classes == ["I", "II", "III"]
    types = champion.feature_schema.feature_types()
    assert types == {"size_mm": "numeric", "site": "categorical", "smoker": "categorical"}
    assert champion.data.cleaning.missing_values_left_for_imputation["size_mm"] > 0
    assert champion.metrics["roc_auc"] >= 0.75
    assert champion.evaluation.classes == ["I", "II", "III"]


def test_copying_a_trained_root_keeps_a_working_registry(champion_root: Path, bc_frame) -> None:
    # Guards the fixtures above: a copied root is a self-contained registry.
    meta = Registry(str(champion_root)).champion()
    assert roc_auc_on(Registry(str(champion_root)).load_model(meta.version), bc_frame) > 0.99
    assert json.loads((champion_root / "models/champion.json").read_text())["version"]
    shutil.rmtree(champion_root / "models")
    assert Registry(str(champion_root)).champion() is None


def test_steps_started_cold_train_the_same_champion_as_warm_ones(
    trained_root: Path, config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLCYCLE_WARM_STEPS=0 starts every step through kfp's own shell script; forking them
    from the warm process (the default, which built trained_root) changes nothing they make."""
    monkeypatch.setenv("MLCYCLE_WARM_STEPS", "0")
    result = run_pipeline(str(tmp_path / "root"), config)
    assert result.ok, Path(result.log_path).read_text()[-2000:]
    cold, warm = Registry(str(tmp_path / "root")).champion(), Registry(str(trained_root)).champion()
    assert cold.metrics == warm.metrics
    assert cold.feature_schema == warm.feature_schema
    assert cold.model.candidate == warm.model.candidate
