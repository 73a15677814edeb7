"""Ground truth through the real API and CLI: POST /v1/feedback checks each item against the
prediction log, the champion's live accuracy and recall follow in /v1/model and /metrics (and
survive a restart), and `mlcycle feedback export` hands the labelled rows to the next run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlcycle import feedback, predictions
from mlcycle.api import create_app
from mlcycle.data.report import DataRejected
from support import LiveServer

from .conftest import ADMIN_TOKEN, Trained, api_settings, serving_for
from .test_prediction_log import QUIET, metric
from .training import fast_config, load_test_split, train_and_register

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
REPO = Path(__file__).resolve().parents[2]


def mlcycle(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcycle.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MLCYCLE_ROOT": str(root), "COLUMNS": "200"},
        cwd=REPO,
        timeout=300,
    )


@pytest.fixture
def test_split(trained: Trained) -> pd.DataFrame:
    return load_test_split(trained.work).reset_index(drop=True)


def predict(client: TestClient | httpx.Client, frame: pd.DataFrame) -> dict:
    rows = frame.drop(columns=["diagnosis"]).to_dict(orient="records")
    answer = client.post("/v1/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    return answer.json()


def expected_live(answer: dict, truth: list[str]) -> tuple[float, float]:
    given = [p["label"] for p in answer["predictions"]]
    accuracy = sum(g == t for g, t in zip(given, truth, strict=True)) / len(truth)
    positives = [g for g, t in zip(given, truth, strict=True) if t == "malignant"]
    return accuracy, sum(g == "malignant" for g in positives) / len(positives)


def test_feedback_gives_the_champion_live_metrics_right_after_its_answers(
    root: Path, test_split: pd.DataFrame
) -> None:
    frame = test_split.head(40)
    truth = list(frame["diagnosis"])
    with TestClient(create_app(api_settings(**QUIET), serving_for(root))) as client:
        before = client.get("/v1/model").json()["live"]
        assert before["rows"] == 0 and before["accuracy"] is None
        answer = predict(client, frame)
        # At once: the log is written out on demand, not in 600 s.
        items = [
            {"request_id": answer["request_id"], "row": i, "label": label}
            for i, label in enumerate(truth)
        ]
        # One real mistake on purpose, so accuracy is not trivially 1.
        items[0]["label"] = "benign" if truth[0] == "malignant" else "malignant"
        truth[0] = items[0]["label"]
        stored = client.post("/v1/feedback", json=items, headers=AUTH)
        assert stored.status_code == 200, stored.text
        accuracy, recall = expected_live(answer, truth)
        assert accuracy < 1
        live = client.get("/v1/model").json()["live"]
        assert live["model_version"] == answer["model_version"]
        assert live["rows"] == 40 and live["positive_class"] == "malignant"
        assert live["accuracy"] == pytest.approx(accuracy)
        assert live["recall"] == pytest.approx(recall)
        assert stored.json()["live"] == live
        text = client.get("/metrics").text
        version = answer["model_version"]
        assert metric(text, "mlcycle_live_metric", metric="accuracy", model_version=version) == (
            pytest.approx(accuracy)
        )
        assert metric(text, "mlcycle_live_metric", metric="recall", model_version=version) == (
            pytest.approx(recall)
        )
        assert metric(text, "mlcycle_feedback_rows", model_version=version) == 40

        # A correction replaces the earlier label rather than counting twice.
        fixed = client.post(
            "/v1/feedback", json=[{**items[0], "label": frame.iloc[0]["diagnosis"]}], headers=AUTH
        )
        assert fixed.status_code == 200
        live = client.get("/v1/model").json()["live"]
        assert live["rows"] == 40
        assert live["accuracy"] == pytest.approx(expected_live(answer, list(frame["diagnosis"]))[0])

    stored_items = feedback.read(str(root))
    assert len(stored_items) == 40  # append-only files, the latest per (id, row) read back
    # A new process reads the stored feedback at start: the same live metrics.
    with TestClient(create_app(api_settings(**QUIET), serving_for(root))) as client:
        assert client.get("/v1/model").json()["live"] == live


def test_unknown_ids_rows_and_labels_are_refused_by_item_and_nothing_is_stored(
    root: Path, test_split: pd.DataFrame
) -> None:
    with TestClient(create_app(api_settings(**QUIET), serving_for(root))) as client:
        answer = predict(client, test_split.head(2))
        rid = answer["request_id"]
        refused = client.post(
            "/v1/feedback",
            json=[
                {"request_id": rid, "label": "benign"},  # fine, but refused with the rest
                {"request_id": "never-answered", "label": "benign"},
                {"request_id": rid, "row": 2, "label": "benign"},
                {"request_id": rid, "row": 1, "label": "cyst"},
            ],
            headers=AUTH,
        )
        assert refused.status_code == 422
        body = refused.json()
        assert "3 of 4" in body["detail"] and "nothing was stored" in body["detail"]
        errors = {e["instance"]: e for e in body["errors"]}
        assert set(errors) == {1, 2, 3}
        assert errors[1]["field"] == "request_id" and "'never-answered'" in errors[1]["message"]
        assert errors[2]["field"] == "row" and "no row 2" in errors[2]["message"]
        assert errors[3]["field"] == "label" and "'cyst'" in errors[3]["message"]
        assert all(f"item {i} (request_id" in errors[i]["message"] for i in errors)
        assert not (root / "feedback").exists()
        assert client.get("/v1/model").json()["live"]["rows"] == 0
        # Only ids or rows the log does not have: 404, what they name is not there.
        unknown = client.post(
            "/v1/feedback",
            json=[
                {"request_id": "never-answered", "label": "benign"},
                {"request_id": rid, "row": 9, "label": "benign"},
            ],
            headers=AUTH,
        )
        assert unknown.status_code == 404
        assert [e["instance"] for e in unknown.json()["errors"]] == [0, 1]

        # Malformed bodies: 422 naming the field, as every route does.
        for body in ([], [{"request_id": rid}], [{"request_id": rid, "label": "benign", "x": 1}]):
            bad = client.post("/v1/feedback", json=body, headers=AUTH)
            assert bad.status_code == 422 and bad.json()["detail"], body
        too_long = client.post(
            "/v1/feedback", json=[{"request_id": "x" * 200, "label": "a"}], headers=AUTH
        )
        assert too_long.status_code == 422


def test_feedback_needs_the_admin_token_and_the_log(root: Path, test_split: pd.DataFrame) -> None:
    with TestClient(create_app(api_settings(**QUIET), serving_for(root))) as client:
        rid = predict(client, test_split.head(1))["request_id"]
        item = [{"request_id": rid, "label": "benign"}]
        assert client.post("/v1/feedback", json=item).status_code == 401
        wrong = {"authorization": "Bearer " + "w" * 20}
        assert client.post("/v1/feedback", json=item, headers=wrong).status_code == 403
    with TestClient(create_app(api_settings(prediction_log=False), serving_for(root))) as client:
        off = client.post("/v1/feedback", json=item, headers=AUTH)
        assert off.status_code == 409 and "MLCYCLE_PREDICTION_LOG" in off.json()["detail"]


def test_round_trip_predict_feedback_export_and_the_next_run_trains_on_it(
    trained: Trained, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    shutil.copytree(trained.root, root)  # models and the incoming data the champion came from
    frame = test_split.head(30)
    app = create_app(api_settings(**QUIET), serving_for(root))
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        answer = predict(client, frame)
        items = [
            {"request_id": answer["request_id"], "row": i, "label": label}
            for i, label in enumerate(frame["diagnosis"])
        ]
        assert client.post("/v1/feedback", json=items, headers=AUTH).status_code == 200
        live = client.get("/v1/model").json()["live"]
        assert live["rows"] == 30
        assert live["accuracy"] == pytest.approx(expected_live(answer, list(frame["diagnosis"]))[0])

    exported = mlcycle("feedback", "export", root=root)
    assert exported.returncode == 0, exported.stderr
    files = sorted((root / "data/incoming").glob("feedback-*.csv"))
    assert len(files) == 1 and f"exported 30 labelled prediction(s) to {files[0]}" in (
        " ".join(exported.stdout.split())
    )
    written = pd.read_csv(files[0])
    features = [c for c in test_split.columns if c != "diagnosis"]
    assert list(written.columns) == [*features, "diagnosis"]  # the config's names
    pd.testing.assert_frame_equal(
        written, frame[[*features, "diagnosis"]].reset_index(drop=True), check_dtype=False
    )

    # The next run ingests and validates the file like any upload, and trains on it.
    summary = train_and_register(str(root), tmp_path / "work", fast_config())
    assert summary["registered"], summary
    report = json.loads((tmp_path / "work/ingest/report").read_text())
    assert report["info"]["rows_by_file"][files[0].name] == 30
    validation = json.loads((tmp_path / "work/validate/report").read_text())
    assert validation["passed"] and not validation["errors"]


def test_an_export_that_breaks_a_rule_is_rejected_by_validation_like_any_upload(
    trained: Trained, test_split: pd.DataFrame, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    shutil.copytree(trained.root, root)
    frame = test_split.head(3).copy()
    with TestClient(create_app(api_settings(**QUIET), serving_for(root))) as client:
        # 0.75 of its range above the largest seen: the API answers with a warning (its
        # tolerance is 1.0), validation refuses it in data (0.5).
        [area] = [
            f for f in client.get("/v1/schema").json()["features"] if f["name"] == "mean_area"
        ]
        frame["mean_area"] = area["max"] + 0.75 * (area["max"] - area["min"])
        answer = predict(client, frame)
        assert answer["predictions"][0]["warnings"]["out_of_range"][0]["feature"] == "mean_area"
        items = [
            {"request_id": answer["request_id"], "row": i, "label": label}
            for i, label in enumerate(frame["diagnosis"])
        ]
        assert client.post("/v1/feedback", json=items, headers=AUTH).status_code == 200
    assert mlcycle("feedback", "export", root=root).returncode == 0
    [exported] = (root / "data/incoming").glob("feedback-*.csv")
    with pytest.raises(DataRejected) as rejected:
        train_and_register(str(root), tmp_path / "work", fast_config())
    assert rejected.value.report.stage == "validate"
    assert exported.name in str(rejected.value) and "mean_area" in str(rejected.value)
    # Quarantined beside its report, as an upload would be; the seed data stays.
    assert (root / "data/rejected" / exported.name).is_file()
    assert not exported.exists()


def test_export_with_nothing_to_export_says_so(root: Path) -> None:
    result = mlcycle("feedback", "export", root=root)
    assert result.returncode == 1 and "no feedback" in result.stderr
    assert not (root / "data/incoming").exists()
    assert predictions.read(str(root)).empty
