"""What the API sends and accepts for safety: security headers on every answer (and a policy
that lets the model report render), a long enough admin token, and guesses limited."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import ValidationError

from mlcycle.api import create_app
from mlcycle.api.auth import MAX_FAILURES
from mlcycle.api.settings import ApiSettings

from .conftest import ADMIN_TOKEN, api_settings, serving_for


def every_kind_of_answer(client: TestClient) -> dict[str, Response]:
    """One answer of each kind the front door handles: a route's JSON, an error, the predict
    fast path (good and bad), a page with its own policy, and HEAD."""
    example = client.get("/v1/schema").json()["examples"]["benign"][0]
    return {
        "json": client.get("/v1/model"),
        "error": client.get("/v1/nothing"),
        "predict": client.post("/v1/predict", json={"instances": [example]}),
        "bad predict": client.post("/v1/predict", content=b"{"),
        "docs": client.get("/docs"),
        "head": client.head("/v1/model"),
    }


def test_every_answer_carries_security_headers(client: TestClient) -> None:
    answers = every_kind_of_answer(client)
    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["x-frame-options"] == "DENY", name
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], name
    assert answers["json"].headers["content-security-policy"].startswith("default-src 'none'")
    assert "script-src 'self' 'unsafe-inline'" in answers["docs"].headers["content-security-policy"]


def test_the_model_report_has_a_policy_that_allows_only_its_own_images_and_style(
    client: TestClient,
) -> None:
    report = client.get("/v1/model/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    policy = report.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert "script-src" not in policy  # no script may run in it


@pytest.mark.parametrize("token", ["short", "x" * 15])
def test_an_admin_token_under_16_characters_is_refused_naming_the_variable(token: str) -> None:
    with pytest.raises(ValidationError, match="MLCYCLE_ADMIN_TOKEN must be at least 16"):
        ApiSettings(admin_token=token)
    assert ApiSettings(admin_token="").admin_token is None  # empty: reload off, as unset
    assert ApiSettings(admin_token="x" * 16).admin_token is not None


def test_wrong_admin_tokens_are_limited_per_client_then_429(root: Path) -> None:
    with TestClient(create_app(api_settings(), serving_for(root), poll=False)) as client:
        wrong = {"Authorization": "Bearer " + "w" * 32}
        right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for _ in range(MAX_FAILURES):
            assert client.post("/v1/model/reload", headers=wrong).status_code == 403
        for headers in (wrong, right):  # once limited, even the right token waits
            limited = client.post("/v1/model/reload", headers=headers)
            assert limited.status_code == 429, limited.text
            assert 0 < int(limited.headers["retry-after"]) <= 60
            assert limited.json()["errors"][0]["type"] == "rate_limited"
        # The limit is per client: another address is not held up by this one's guesses.
        other = TestClient(client.app, client=("10.0.0.2", 5000))
        assert other.post("/v1/model/reload", headers=right).status_code == 200


def test_every_answer_carries_a_request_id_and_keeps_a_plain_one_the_client_sent(
    client: TestClient,
) -> None:
    ids = [answer.headers["x-request-id"] for answer in every_kind_of_answer(client).values()]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids), ids
    assert len(set(ids)) == len(ids)  # a new one for each request

    example = client.get("/v1/schema").json()["examples"]["benign"][0]
    mine = "job-7.row:12_a"
    for method, path, body in (("get", "/v1/model", None), ("post", "/v1/predict", example)):
        kwargs = {"json": {"instances": [body]}} if body else {}
        answer = getattr(client, method)(path, headers={"x-request-id": mine}, **kwargs)
        assert answer.headers["x-request-id"] == mine, path
    # Not kept when it could smuggle text into logs and headers: too long, or not plain.
    for theirs in ("x" * 129, "a b", "<script>", ""):
        answer = client.get("/v1/model", headers={"x-request-id": theirs})
        assert answer.headers["x-request-id"] != theirs
        assert len(answer.headers["x-request-id"]) == 32


def test_a_bug_is_a_json_500_with_the_request_id_and_the_server_goes_on(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug in a route")

    monkeypatch.setattr(client.app.state.live, "for_model", broken)
    answer = client.get("/v1/model", headers={"x-request-id": "trace-42"})
    assert answer.status_code == 500 and answer.headers["x-request-id"] == "trace-42"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "trace-42" in answer.json()["detail"] and "a bug" not in answer.text  # no internals
    assert "trace-42" in caplog.text and "a bug in a route" in caplog.text  # the log has them
    assert client.get("/v1/schema").status_code == 200
