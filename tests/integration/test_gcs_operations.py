"""The operations layer on a bucket root, as in the cloud: the API's prediction log and
feedback, `mlcycle feedback export`, `mlcycle monitor` and the drift route, all against the GCS
emulator (the folder root is tested in tests/api and tests/pipeline)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mlcycle import predictions, storage
from mlcycle.api import create_app
from mlcycle.api.serving import Serving
from mlcycle.api.settings import ApiSettings

TOKEN = "gcs-operations-admin-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def mlcycle(*args: str, root: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcycle.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MLCYCLE_ROOT": root, "COLUMNS": "200"},
        timeout=300,
    )


def app_on(root: str) -> FastAPI:
    settings = ApiSettings(admin_token=TOKEN, poll_seconds=0.2, prediction_log_flush_seconds=600)
    serving = Serving(root=root, host="127.0.0.1", port=0, health_route=None, predict_route=None)
    return create_app(settings, serving)


@pytest.fixture
def bucket_root(gcs_emulator: str, trained_root: Path) -> str:
    """The trained root's registry and data, copied into a fresh prefix of the bucket."""
    root = f"gs://{gcs_emulator}/{uuid.uuid4().hex[:8]}"
    for part in ("models", "data"):
        for path in (trained_root / part).rglob("*"):
            if path.is_file():
                rel = path.relative_to(trained_root).as_posix()
                storage.write_bytes(storage.join(root, rel), path.read_bytes())
    return root


def test_log_feedback_export_and_monitor_on_a_bucket(bucket_root: str, bc_frame) -> None:
    frame = bc_frame.sample(150, random_state=7).reset_index(drop=True)
    rows = frame.drop(columns=["id", "diagnosis"]).to_dict(orient="records")
    with TestClient(app_on(bucket_root)) as client:
        answer = client.post("/v1/predict", json={"instances": rows})
        assert answer.status_code == 200, answer.text
        rid = answer.headers["x-request-id"]
        items = [{"request_id": rid, "row": i, "label": y} for i, y in enumerate(frame.diagnosis)]
        stored = client.post("/v1/feedback", json=items, headers=AUTH)
        assert stored.status_code == 200, stored.text
        assert client.get("/v1/model").json()["live"]["rows"] == 150
        assert client.get("/v1/model/drift").status_code == 404  # no report yet

    # The log is in the bucket, one row per instance, as answered.
    logged = predictions.read(bucket_root)
    assert len(logged) == 150 and set(logged["request_id"]) == {rid}
    labels = [p["label"] for p in answer.json()["predictions"]]
    assert list(logged.sort_values("row")["label"]) == labels

    exported = mlcycle("feedback", "export", root=bucket_root)
    assert exported.returncode == 0, exported.stderr
    [incoming] = [
        f
        for f in storage.list_files(storage.join(bucket_root, "data/incoming"))
        if f.name.startswith("feedback-")
    ]
    written = pd.read_csv(io.BytesIO(storage.read_bytes(incoming.uri)))
    assert len(written) == 150 and list(written["diagnosis"]) == list(frame["diagnosis"])

    # 150 rows drawn from the training data: measured, and not drift.
    monitored = mlcycle("monitor", "--since", "1h", "--json", root=bucket_root)
    assert monitored.returncode == 0, monitored.stdout + monitored.stderr
    with TestClient(app_on(bucket_root)) as client:
        report = client.get("/v1/model/drift", params={"format": "json"})
        assert report.status_code == 200, report.text
        assert report.json()["rows"] == 150 and report.json()["status"] != "alert"
