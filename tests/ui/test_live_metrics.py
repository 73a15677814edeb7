"""The model page shows the champion's live metrics, as the API computes them from the ground
truth sent to POST /v1/feedback."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from mlcycle.api import create_app as create_api
from mlcycle.api.serving import Serving
from mlcycle.api.settings import ApiSettings
from support import LiveServer

from .conftest import make_app
from .html import parse

TOKEN = "ui-test-admin-token"


def test_the_model_page_shows_live_accuracy_and_recall(served_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(served_root / "models", root / "models")  # the feedback stays private
    settings = ApiSettings(poll_seconds=60, admin_token=TOKEN, prediction_log_flush_seconds=600)
    api = create_api(settings, Serving(str(root), "127.0.0.1", 0, None, None), poll=False)
    with LiveServer(api) as server:
        ui = make_app(server.url).test_client()
        before = parse(ui.get("/model").get_data(as_text=True))
        assert "No ground truth yet" in before.find("p", data_testid="live-metrics").text()

        examples = httpx.get(f"{server.url}/v1/schema", timeout=10).json()["examples"]
        instances = examples["malignant"][:2] + examples["benign"][:2]
        answer = httpx.post(f"{server.url}/v1/predict", json={"instances": instances}).json()
        truth = ["malignant", "malignant", "benign", "malignant"]  # the last one: a miss
        items = [
            {"request_id": answer["request_id"], "row": i, "label": label}
            for i, label in enumerate(truth)
        ]
        stored = httpx.post(
            f"{server.url}/v1/feedback", json=items, headers={"authorization": f"Bearer {TOKEN}"}
        )
        assert stored.status_code == 200, stored.text
        live = httpx.get(f"{server.url}/v1/model", timeout=10).json()["live"]
        assert live["rows"] == 4 and live["accuracy"] < 1

        doc = parse(ui.get("/model").get_data(as_text=True))
        assert doc.find("dd", data_testid="live-rows").text() == "4"
        assert doc.find("dd", data_testid="live-accuracy").text() == f"{live['accuracy']:.4f}"
        assert doc.find("dd", data_testid="live-recall").text() == f"{live['recall']:.4f}"
