"""The model page gives the latest drift verdict and links the drift report, proxied from the
API like the model report; before the first report it says how to make one."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd

from drift_support import log_features, shifted
from mlcycle import monitor
from mlcycle.config import Drift
from mlcycle.model.registry import Registry

from .conftest import api_server, make_app
from .html import parse


def test_the_model_page_shows_the_latest_drift_verdict_and_links_its_report(
    served_root: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"  # a private registry: other tests see no drift report
    shutil.copytree(served_root / "models", root / "models")
    with api_server(root) as api:
        client = make_app(api.url).test_client()
        doc = parse(client.get("/model").get_data(as_text=True))
        (status,) = doc.find_all(data_testid="drift-status")
        assert "No drift report yet" in status.text() and "mlcycle monitor" in status.text()
        assert client.get("/model/drift").status_code == 404

        version = Registry(str(root)).champion_version()
        train = pd.read_parquet(served_root.parent / "work" / "split" / "train_set")
        log_features(root, version, shifted(train, "worst_radius", 300))
        report = monitor.measure(str(root), Drift(), timedelta(hours=1))
        monitor.write(str(root), report)

        doc = parse(client.get("/model").get_data(as_text=True))
        (status,) = doc.find_all(data_testid="drift-status")
        assert status.text() == "alert"
        (link,) = doc.find_all(data_testid="drift-link")
        assert link.attrs["href"] == "/model/drift"
        assert "worst_radius" in doc.find("p", class_="drift").text()
        response = client.get("/model/drift")
        assert response.status_code == 200 and response.mimetype == "text/html"
        assert response.data == httpx.get(f"{api.url}/v1/model/drift", timeout=10).content
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
