"""Drift's core, called directly: the training reference (model/reference.py), the PSI and its
noise floor (model/drift.py) and the monitor's files (monitor.py) on a registry made here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcycle import monitor, predictions
from mlcycle.config import DatasetConfig, Drift
from mlcycle.model.drift import assess, categorical_drift, noise_floor, numeric_drift, psi
from mlcycle.model.reference import REFERENCE_FILE, Reference, build_reference
from mlcycle.model.registry import Registry

OLD_REGISTRY = Path(__file__).parents[1] / "data/registry-a1f9801"
RNG = np.random.default_rng(16)
TRAIN = pd.DataFrame(
    {
        "size": RNG.normal(10.0, 2.0, 2000),
        "count": RNG.integers(0, 3, 2000).astype(float),  # ties: fewer bins than asked
        "colour": RNG.choice(["red", "green", "blue"], 2000, p=[0.5, 0.3, 0.2]),
    }
)
TYPES = {"size": "numeric", "count": "numeric", "colour": "categorical"}


def test_the_reference_bins_numeric_features_at_training_quantiles() -> None:
    ref = build_reference(TRAIN, TYPES, bins=10)
    size = ref.feature("size")
    assert size.type == "numeric" and size.rows == 2000 and size.missing_fraction == 0
    assert len(size.edges) == 9 and np.allclose(size.shares, 0.1, atol=0.002)
    assert size.mean == pytest.approx(TRAIN["size"].mean())
    assert size.std == pytest.approx(TRAIN["size"].std())
    assert len(size.percentiles) == 101 and size.percentiles[0] == TRAIN["size"].min()
    count = ref.feature("count")  # three values: the deciles collapse onto them
    assert count.edges == [0, 1, 2] and count.shares[-1] == 0  # (2, inf): none in training
    assert sum(count.shares) == pytest.approx(1)
    colour = ref.feature("colour")
    assert colour.shares == pytest.approx({"blue": 0.2, "green": 0.3, "red": 0.5}, abs=0.03)
    # Stored and read back with its kinds: what the monitor gets from reference.json
    again = Reference.model_validate_json(json.dumps(ref.to_json()))
    assert again == ref


def test_a_constant_feature_still_sees_values_above_it() -> None:
    ref = build_reference(pd.DataFrame({"x": [5.0] * 300}), {"x": "numeric"}).feature("x")
    assert ref.edges == [5.0] and ref.shares == [1.0, 0.0]
    moved = numeric_drift(ref, pd.Series([6.0] * 500), Drift())
    assert moved.status == "alert" and moved.psi > 1


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_move() -> None:
    same = np.array([0.25, 0.25, 0.5])
    assert psi(same, same) == 0
    assert 0 < psi(same, np.array([0.3, 0.25, 0.45])) < psi(same, np.array([0.5, 0.25, 0.25]))
    # sampling alone: the floor falls with more rows, never below the training side's share
    assert noise_floor(10, 100, 500, 0.999) > noise_floor(10, 100_000, 500, 0.999) > 0.05


def test_an_unseen_category_and_missing_values_are_drift() -> None:
    ref = build_reference(TRAIN, TYPES).feature("colour")
    same = categorical_drift(ref, TRAIN["colour"].sample(1000, random_state=1), Drift())
    assert same.status == "ok" and same.psi < 0.02
    values = pd.Series(["purple"] * 400 + [None] * 200 + ["red"] * 400)
    moved = categorical_drift(ref, values, Drift())
    assert moved.status == "alert" and moved.missing_fraction == pytest.approx(0.2)
    shares = {b.label: b.live for b in moved.buckets}
    assert shares["not seen in training"] == pytest.approx(0.4)


def test_a_shift_of_one_std_alerts_and_a_large_unshifted_sample_does_not() -> None:
    ref = build_reference(TRAIN, TYPES)
    big = TRAIN.sample(100_000, replace=True, random_state=2, ignore_index=True)
    big["size"] += RNG.normal(0, 0.1, len(big))  # measured again, with noise
    status, message, results = assess(ref, dict(big.items()), Drift(), rows=len(big), version="v1")
    assert status == "ok", message
    assert max(r.psi for r in results) < 0.02
    shifted = TRAIN.sample(500, random_state=3, ignore_index=True)
    shifted["size"] += TRAIN["size"].std()
    status, message, results = assess(ref, dict(shifted.items()), Drift(), rows=500, version="v1")
    by_name = {r.name: r for r in results}
    assert status == "alert" and "size" in message
    assert by_name["size"].status == "alert" and by_name["colour"].status == "ok"
    assert by_name["size"].mean_shift_std == pytest.approx(1, abs=0.1)
    assert by_name["size"].shift_std == pytest.approx(1, abs=0.1)


def test_few_rows_give_no_verdict_and_noise_is_not_drift() -> None:
    ref = build_reference(TRAIN, TYPES)
    few = TRAIN.head(40).copy()
    few["size"] += 5
    status, message, results = assess(ref, dict(few.items()), Drift(), rows=40, version="v1")
    assert status == "too_few_rows" and results == [] and "100" in message
    # 120 unshifted rows: PSIs past psi_warn happen by chance; the floor keeps them "ok"
    config, largest = Drift(min_rows=20), 0.0
    for seed in range(20):
        sample = TRAIN.sample(120, random_state=seed)
        status, _, results = assess(ref, dict(sample.items()), config, rows=120, version="v")
        assert status == "ok", [(r.name, r.psi, r.noise_floor) for r in results]
        largest = max(largest, *(r.psi for r in results))
    assert largest > config.psi_warn  # what a bare threshold would have flagged


def test_the_config_orders_its_thresholds() -> None:
    with pytest.raises(ValueError, match=r"psi_warn 0\.3 is above psi_alert 0\.2"):
        Drift(psi_warn=0.3, psi_alert=0.2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30m", timedelta(minutes=30))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert monitor.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "24", "h", "-1d", "0h", "3 months", "1y"])
def test_a_bad_duration_says_what_one_looks_like(text: str) -> None:
    with pytest.raises(monitor.MonitorError, match=r"e\.g\. 24h or 7d"):
        monitor.parse_duration(text)


def _registry_with_reference(root: Path) -> str:
    registry = Registry(str(root))
    reference = build_reference(TRAIN, TYPES)
    files = {
        "model.joblib": b"not a model",
        REFERENCE_FILE: json.dumps(reference.to_json()).encode(),
    }
    meta = registry.register(
        files,
        {
            "schema": {
                "label": "y",
                "classes": ["a", "b"],
                "features": [{"name": n, "type": t} for n, t in TYPES.items()],
            },
            "metrics": {},
            "gate": {"decision": "promoted", "promote": True},
            "lineage": {},
        },
    )
    registry.promote(meta.version)
    return meta.version


def _log(root: Path, version: str, frame: pd.DataFrame, when: datetime) -> None:
    rows = [
        {
            "time": when,
            "request_id": f"r{i}",
            "row": 0,
            "version": version,
            "label": "a",
            "warnings": "[]",
            "p.a": 0.5,
            "p.b": 0.5,
            **{f"f.{k}": v for k, v in record.items()},
        }
        for i, record in enumerate(frame.to_dict("records"))
    ]
    predictions.write_part(str(root), version, rows, ["a", "b"], TYPES)


def test_the_monitor_reads_the_window_writes_a_report_and_claims_a_retrain_once(
    tmp_path: Path,
) -> None:
    version = _registry_with_reference(tmp_path)
    now = datetime.now(UTC)
    shifted = TRAIN.sample(300, random_state=4, ignore_index=True)
    shifted["size"] += 3
    _log(tmp_path, version, shifted, now - timedelta(minutes=5))
    _log(tmp_path, version, TRAIN.head(1000), now - timedelta(days=3))  # outside the window
    report = monitor.measure(str(tmp_path), Drift(), timedelta(hours=24))
    assert report.version == version and report.rows == 300 and report.status == "alert"
    assert report.rows_by_version == {version: 300}
    written = monitor.write(str(tmp_path), report)
    assert monitor.latest_name(str(tmp_path)) == Path(written.json_uri).stem
    assert json.loads(monitor.read_latest(str(tmp_path)))["id"] == report.id
    page = monitor.read_latest(str(tmp_path), "html").decode()
    assert page.startswith("<!doctype html>") and page.count("data:image/png;base64,") == 3
    # The same logged files again: the same report id, retrained for once
    again = monitor.measure(str(tmp_path), Drift(), timedelta(hours=24))
    assert again.id == report.id
    assert monitor.claim_retrain(str(tmp_path), report) is True
    assert monitor.claim_retrain(str(tmp_path), again) is False
    _log(tmp_path, version, shifted, now - timedelta(minutes=1))  # new predictions: new report
    newer = monitor.measure(str(tmp_path), Drift(), timedelta(hours=24))
    assert newer.id != report.id and monitor.claim_retrain(str(tmp_path), newer) is True


def test_a_feature_a_version_did_not_log_is_not_counted_as_missing(tmp_path: Path) -> None:
    version = _registry_with_reference(tmp_path)
    now = datetime.now(UTC)
    _log(tmp_path, version, TRAIN.sample(400, random_state=5), now)
    # another version, which took only `size`: its rows count for `size` alone
    rows = [
        {"time": now, "request_id": f"o{i}", "row": 0, "version": "other", "label": "a",
         "warnings": "[]", "p.a": 0.5, "p.b": 0.5, "f.size": float(v)}
        for i, v in enumerate(TRAIN["size"].sample(400, random_state=6))
    ]  # fmt: skip
    predictions.write_part(str(tmp_path), "other", rows, ["a", "b"], {"size": "numeric"})
    report = monitor.measure(str(tmp_path), Drift(), timedelta(hours=1))
    by_name = {f.name: f for f in report.features}
    assert report.rows == 800 and by_name["size"].rows == 800
    assert by_name["colour"].rows == 400 and by_name["colour"].missing_fraction == 0
    assert report.status == "ok", report.message


def test_a_version_registered_before_references_is_named(
    tmp_path: Path, config: DatasetConfig
) -> None:
    import shutil

    shutil.copytree(OLD_REGISTRY / "models", tmp_path / "models")
    with pytest.raises(monitor.MonitorError, match="registered before versions stored"):
        monitor.measure(str(tmp_path), config.drift, timedelta(hours=1))
    with pytest.raises(monitor.MonitorError, match="no champion"):
        monitor.measure(str(tmp_path / "empty"), config.drift)
