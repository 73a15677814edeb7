"""The prediction log through the real API: what is answered is what is written (JSON, CSV
and Arrow), it survives a restart, a full queue drops rows but no request, a storage failure
is counted and never reaches a client; and every answer carries its request id."""

from __future__ import annotations

import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from mlcycle import predictions
from mlcycle.api import create_app
from support import LiveServer

from .conftest import Trained, api_settings, serving_for
from .training import load_test_split

NO_WARNINGS = {"out_of_range": [], "imputed": 0, "unseen_category": []}

QUIET = {"prediction_log_flush_seconds": 600}  # only a full queue, feedback or shutdown writes


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text, 0 when it is absent."""
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + selector + '}') if labels else ''} (\S+)$"
    found = re.search(pattern, text, flags=re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def rows_of(trained: Trained, n: int) -> list[dict]:
    frame = load_test_split(trained.work).drop(columns=["diagnosis"]).head(n)
    return frame.to_dict(orient="records")


def test_what_is_answered_is_logged_and_survives_a_restart(root: Path, trained: Trained) -> None:
    rows = rows_of(trained, 6)
    rows[1]["mean_radius"] = None  # unknown: logged as null
    with LiveServer(create_app(api_settings(**QUIET), serving_for(root))) as server:
        single = httpx.post(f"{server.url}/v1/predict", json={"instances": rows[:1]}, timeout=30)
        batch = httpx.post(
            f"{server.url}/v1/predict",
            json={"instances": rows[1:4]},
            headers={"x-request-id": "batch-1"},
            timeout=30,
        )
        import pandas as pd

        csv = pd.DataFrame(rows[4:6]).to_csv(index=False).encode()
        columnar = httpx.post(
            f"{server.url}/v1/predict", content=csv, headers={"content-type": "text/csv"}
        )
        assert [r.status_code for r in (single, batch, columnar)] == [200, 200, 200]
        assert not (root / "predictions").exists()  # nothing written yet: still in memory
    # The server stopped: its shutdown wrote the queue.
    logged = predictions.read(str(root))
    assert len(logged) == 6
    version = single.json()["model_version"]
    assert set(logged["version"]) == {version}
    by_request = {rid: group for rid, group in logged.groupby("request_id")}
    assert set(by_request) == {
        single.headers["x-request-id"],
        "batch-1",
        columnar.headers["x-request-id"],
    }
    answered = batch.json()["predictions"]
    got = by_request["batch-1"].sort_values("row")
    assert list(got["row"]) == [0, 1, 2]
    assert list(got["label"]) == [p["label"] for p in answered]
    assert np.allclose(got["p.malignant"], [p["probabilities"]["malignant"] for p in answered])
    feats = predictions.features(got)
    assert np.isnan(feats["mean_radius"].iloc[0])  # the unknown value, as null
    assert np.allclose(feats["mean_texture"], [r["mean_texture"] for r in rows[1:4]])
    # Warnings as the answer gave them (the missing value is one imputed); null for none.
    assert [json.loads(w) if isinstance(w, str) else NO_WARNINGS for w in got["warnings"]] == [
        p["warnings"] for p in answered
    ]
    assert answered[0]["warnings"]["imputed"] == 1
    csv_rows = by_request[columnar.headers["x-request-id"]]
    assert np.allclose(
        predictions.features(csv_rows)["worst_area"], [r["worst_area"] for r in rows[4:6]]
    )

    # A second life of the server on the same root adds to the log; nothing is lost.
    with LiveServer(create_app(api_settings(**QUIET), serving_for(root))) as server:
        again = httpx.post(f"{server.url}/v1/predict", json={"instances": rows[:2]}, timeout=30)
        assert again.status_code == 200
    assert len(predictions.read(str(root))) == 8


def test_arrow_batches_are_logged_like_json(root: Path, trained: Trained) -> None:
    import pandas as pd

    rows = rows_of(trained, 50)
    table = pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with TestClient(create_app(api_settings(**QUIET), serving_for(root))) as client:
        answer = client.post(
            "/v1/predict",
            content=sink.getvalue(),
            headers={"content-type": "application/vnd.apache.arrow.stream"},
        )
        assert answer.status_code == 200
    logged = predictions.read(str(root))
    assert len(logged) == 50 and set(logged["request_id"]) == {answer.headers["x-request-id"]}
    labels = pa.ipc.open_stream(answer.content).read_all().column("label").to_pylist()
    assert list(logged.sort_values("row")["label"]) == labels


def test_a_full_queue_drops_rows_and_counts_them_and_every_request_succeeds(
    root: Path, trained: Trained
) -> None:
    rows = rows_of(trained, 1)
    settings = api_settings(prediction_log_queue_rows=5, **QUIET)
    with LiveServer(create_app(settings, serving_for(root))) as server:
        with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(
                    lambda _: (
                        client.post(
                            f"{server.url}/v1/predict", json={"instances": rows}
                        ).status_code
                    ),
                    range(40),
                )
            )
        assert statuses == [200] * 40
        text = httpx.get(f"{server.url}/metrics").text
        assert metric(text, "mlcycle_prediction_log_rows_total", outcome="dropped") == 35
    assert len(predictions.read(str(root))) == 5  # what the queue held was written at shutdown


def test_the_queue_is_written_once_it_holds_flush_rows(root: Path, trained: Trained) -> None:
    settings = api_settings(prediction_log_flush_rows=4, **QUIET)
    with LiveServer(create_app(settings, serving_for(root))) as server:
        answer = httpx.post(
            f"{server.url}/v1/predict", json={"instances": rows_of(trained, 4)}, timeout=30
        )
        assert answer.status_code == 200

        def written() -> float:
            text = httpx.get(f"{server.url}/metrics").text
            return metric(text, "mlcycle_prediction_log_rows_total", outcome="written")

        from .conftest import wait_until

        assert wait_until(lambda: written() == 4, 10)  # long before the 600 s interval
        assert len(predictions.read(str(root))) == 4


def test_a_failing_write_is_counted_and_never_reaches_a_request(
    root: Path, trained: Trained
) -> None:
    (root / "predictions").write_text("a file where the log's folder should be")
    settings = api_settings(prediction_log_flush_rows=1, **QUIET)
    with TestClient(create_app(settings, serving_for(root))) as client:
        for _ in range(3):
            assert (
                client.post("/v1/predict", json={"instances": rows_of(trained, 2)}).status_code
                == 200
            )
        client.app.state.prediction_log.flush()
        text = client.get("/metrics").text
        assert metric(text, "mlcycle_prediction_log_write_failures_total") >= 1
        assert metric(text, "mlcycle_prediction_log_rows_total", outcome="lost") == 6
        assert metric(text, "mlcycle_prediction_log_rows_total", outcome="written") == 0
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    ("changes", "expected"),
    [({"prediction_log": False}, 0), ({"prediction_log_sample": 0.0}, 0)],
    ids=["off", "sampled-out"],
)
def test_the_log_can_be_turned_off_or_sampled(
    root: Path, trained: Trained, changes: dict, expected: int
) -> None:
    with TestClient(create_app(api_settings(**changes), serving_for(root))) as client:
        for _ in range(5):
            assert client.post("/v1/predict", json={"instances": rows_of(trained, 1)}).is_success
    assert len(predictions.read(str(root))) == expected


def test_a_sampling_rate_keeps_about_that_share_of_requests(root: Path, trained: Trained) -> None:
    settings = api_settings(prediction_log_sample=0.5, **QUIET)
    with TestClient(create_app(settings, serving_for(root))) as client:
        for _ in range(200):
            assert client.post("/v1/predict", json={"instances": rows_of(trained, 1)}).is_success
    assert 60 <= len(predictions.read(str(root))) <= 140  # binomial(200, 0.5): ±5.6 sd


# -- request ids ----------------------------------------------------------------------------


def test_every_answer_carries_a_request_id_and_a_safe_one_sent_is_kept(client: TestClient) -> None:
    rows = client.get("/v1/schema").json()["examples"]["benign"][:1]
    made = client.post("/v1/predict", json={"instances": rows})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert made.json()["request_id"] == made.headers["x-request-id"]
    kept = client.post(
        "/v1/predict", json={"instances": rows}, headers={"x-request-id": "order-42:a/b=="}
    )
    assert kept.headers["x-request-id"] == "order-42:a/b==" == kept.json()["request_id"]
    # Errors, other routes, unknown paths and HEAD all carry one.
    for answer in (
        client.post("/v1/predict", content=b"{not json"),
        client.post("/v1/predict", json={"instances": [{"nope": 1}]}),
        client.get("/healthz"),
        client.get("/v1/model"),
        client.get("/no/such/path"),
        client.head("/healthz"),
        client.post("/v1/model/reload"),
    ):
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"]), answer.url
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize(
    "sent",
    ["x" * 129, "has space", "semi;colon", "<script>", "ünïcode", ""],
    ids=["too-long", "space", "semicolon", "markup", "non-ascii", "empty"],
)
def test_an_unsafe_request_id_is_replaced(client: TestClient, sent: str) -> None:
    answer = client.get("/healthz", headers={"x-request-id": sent.encode("utf-8")})
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])
    assert answer.status_code == 200


def test_a_flush_across_midnight_writes_each_row_under_its_own_date() -> None:
    from datetime import UTC, datetime

    from mlcycle.api.prediction_log import REQUEST_ID, _groups

    midnight = datetime(2026, 12, 3, tzinfo=UTC).timestamp()
    records = [
        ("v1", when, rid, None, None, None, None)
        for when, rid in ((midnight - 0.1, "late"), (midnight + 0.1, "early"))
    ]
    groups = _groups(records)  # type: ignore[arg-type]
    assert {day: [r[REQUEST_ID] for r in rs] for (_, day), rs in groups.items()} == {
        "2026-12-02": ["late"],
        "2026-12-03": ["early"],
    }
