"""The model page gives the latest drift verdict and links the drift report, proxied from the
API like the model report; before the first report it says how to make one, and when the
report cannot be read the page still stands and says so."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

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


def unreadable_report(root: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Storage fails: the latest report's JSON is a folder, and the API answers 503."""
    folder = Path(monitor.folder(str(root)))
    (folder / "broken.json").mkdir(parents=True)
    (folder / monitor.LATEST).write_text(json.dumps({"name": "broken"}))
    return lambda: None


def slow_report(root: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The API answers later than the UI waits; the returned call lets its read finish."""
    release = threading.Event()

    def read_latest(*_: object) -> None:
        release.wait(10)

    monkeypatch.setattr(monitor, "read_latest", read_latest)
    return release.set


@pytest.mark.parametrize("failure", [unreadable_report, slow_report])
def test_the_model_page_stands_when_the_drift_report_cannot_be_read(
    served_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: Callable[[Path, pytest.MonkeyPatch], Callable[[], None]],
) -> None:
    root = tmp_path / "root"
    shutil.copytree(served_root / "models", root / "models")
    release = failure(root, monkeypatch)
    with api_server(root) as api:
        try:
            response = make_app(api.url, API_TIMEOUT=3.0).test_client().get("/model")
        finally:
            release()
    assert response.status_code == 200
    doc = parse(response.get_data(as_text=True))
    version = Registry(str(root)).champion_version()
    assert doc.find(data_testid="model-version").text() == version
    assert doc.find(data_testid="gate-decision").text()
    (status,) = doc.find_all(data_testid="drift-status")
    assert "could not be read" in status.text(), status.text()  # not "no report yet"
    assert not doc.find_all(data_testid="drift-link")


def test_an_unreadable_drift_report_is_a_storage_failure_not_a_missing_model(
    served_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    shutil.copytree(served_root / "models", root / "models")
    unreadable_report(root, monkeypatch)
    (Path(monitor.folder(str(root))) / "broken.html").mkdir()  # the page, as its JSON
    with api_server(root) as api:
        response = make_app(api.url, API_TIMEOUT=3.0).test_client().get("/model/drift")
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "cannot read its storage" in text and "no model yet" not in text
