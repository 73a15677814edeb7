"""`mlcycle monitor` as a user runs it, on a registry trained by the real steps and a
prediction log in the API's layout: drift on a shifted sample, none on 100,000 unshifted rows,
no verdict on a handful, and a clear error for a version registered before references."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from api.training import fast_config, train_and_register
from drift_support import log_features, shifted, unshifted
from mlcycle.model.registry import Registry

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
OLD_REGISTRY = REPO / "tests/data/registry-a1f9801"
SHIFTED = "mean_radius"


def mlcycle(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCYCLE_")}
    return subprocess.run(
        [sys.executable, "-m", "mlcycle.cli", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        cwd=REPO,
        timeout=300,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("monitor")
    summary = train_and_register(str(base / "root"), base / "work", fast_config())
    assert summary["promoted"], summary
    return base / "root", summary["version"], pd.read_parquet(base / "work/split/train_set")


@pytest.fixture
def root(trained, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(trained[0] / "models", copy / "models")
    return copy


def features(root: Path, version: str) -> list[str]:
    return Registry(str(root)).get(version).feature_schema.feature_names()


def latest_report(root: Path) -> dict:
    pointer = json.loads((root / "monitoring/drift/latest.json").read_text())
    return json.loads((root / f"monitoring/drift/{pointer['name']}.json").read_text())


def test_a_feature_moved_by_one_std_is_drift_exit_4(trained, root: Path) -> None:
    _, version, train = trained
    log_features(root, version, shifted(train, SHIFTED, 400))
    result = mlcycle("monitor", "--root", str(root), "--since", "1h")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "alert" in result.stdout and SHIFTED in result.stdout
    report = latest_report(root)
    assert report["status"] == "alert" and report["version"] == version and report["rows"] == 400
    drifted = [f["name"] for f in report["features"] if f["status"] == "alert"]
    assert drifted == [SHIFTED]
    (moved,) = [f for f in report["features"] if f["name"] == SHIFTED]
    assert moved["mean_shift_std"] == pytest.approx(1, abs=0.15)
    html = next((root / "monitoring/drift").glob("*.html")).read_text()
    assert html.startswith("<!doctype html>") and f"<td>{SHIFTED}</td>" in html
    assert html.count("data:image/png;base64,") == len(features(root, version))
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")


def test_100000_unshifted_rows_are_no_drift_exit_0(trained, root: Path) -> None:
    _, version, train = trained
    log_features(root, version, unshifted(train, features(root, version), 100_000))
    result = mlcycle("monitor", "--root", str(root), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 100_000 and report["status"] == "ok", report["message"]
    assert {f["status"] for f in report["features"]} == {"ok"}
    assert max(f["psi"] for f in report["features"]) < 0.02  # psi_warn: 0.1


def test_a_handful_of_rows_gives_no_verdict_and_no_alarm(trained, root: Path) -> None:
    _, version, train = trained
    log_features(root, version, shifted(train, SHIFTED, 30))
    result = mlcycle("monitor", "--root", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "30 logged rows" in result.stdout and "no verdict" in result.stdout
    assert latest_report(root)["status"] == "too_few_rows"


def test_once_exits_4_for_a_report_only_the_first_time(trained, root: Path) -> None:
    _, version, train = trained
    log_features(root, version, shifted(train, SHIFTED, 400))
    first = mlcycle("monitor", "--root", str(root), "--once")
    assert first.returncode == 4, first.stdout + first.stderr
    again = mlcycle("monitor", "--root", str(root), "--once")
    assert again.returncode == 0 and "already acted on" in again.stdout, again.stdout
    assert mlcycle("monitor", "--root", str(root)).returncode == 4  # without --once: the state


def test_what_cannot_be_measured_is_named(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(OLD_REGISTRY / "models", old / "models")
    result = mlcycle("monitor", "--root", str(old))
    assert result.returncode == 1
    assert "registered before versions stored the reference statistics" in result.stderr
    empty = mlcycle("monitor", "--root", str(tmp_path / "empty"))
    assert empty.returncode == 1 and "no champion" in empty.stderr
    bad = mlcycle("monitor", "--root", str(old), "--since", "yesterday")
    assert bad.returncode == 1 and "not a duration" in bad.stderr
    unknown = mlcycle("monitor", "--root", str(old), "--version", "nope")
    assert unknown.returncode == 1 and "no model version 'nope'" in unknown.stderr
