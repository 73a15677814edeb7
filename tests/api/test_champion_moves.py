"""The API follows `mlcycle promote` and `mlcycle rollback` (the real CLI, in its own process)
with no failed request, and says how its champion got there: /v1/model's `champion` and
/v1/model/history."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from itertools import groupby
from pathlib import Path

import httpx

from support import LiveServer

from .conftest import Trained, api_settings, get_json, serving_for, wait_until

REPO = Path(__file__).resolve().parents[2]


def mlcycle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlcycle.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )


def test_promote_and_rollback_swap_with_no_failed_request(root: Path, trained: Trained) -> None:
    """Requests at concurrency 8 while the CLI promotes the second version, then rolls back:
    every answer is 200, and the answers go first -> second -> first."""
    concurrency = 8
    moves: dict[str, subprocess.CompletedProcess[str]] = {}

    def move(url: str) -> None:
        moves["promote"] = mlcycle(
            "promote", trained.second, "--reason", "try the forest", "--root", str(root)
        )
        wait_until(lambda: get_json(f"{url}/v1/model")["version"] == trained.second, 30)
        moves["rollback"] = mlcycle("rollback", "--reason", "forest too slow", "--root", str(root))
        wait_until(lambda: get_json(f"{url}/v1/model")["version"] == trained.first, 30)

    async def load(url: str, instance: dict, mover: threading.Thread) -> list:
        results: list[tuple[float, int, str]] = []
        loop = asyncio.get_running_loop()
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

            async def worker() -> None:
                extra = 50  # a few more once both moves were seen
                while mover.is_alive() or extra > 0:
                    if not mover.is_alive():
                        extra -= 1
                    response = await http.post("/v1/predict", json={"instances": [instance]})
                    version = response.json()["model_version"] if response.is_success else ""
                    results.append((loop.time(), response.status_code, version))

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 180)
        return results

    with LiveServer(create_app_for(root)) as server:
        instance = get_json(f"{server.url}/v1/schema")["examples"]["malignant"][0]
        mover = threading.Thread(target=move, args=(server.url,))
        mover.start()
        results = asyncio.run(load(server.url, instance, mover))
        mover.join(60)
        model = get_json(f"{server.url}/v1/model")
        history = get_json(f"{server.url}/v1/model/history?limit=3")

    assert moves["promote"].returncode == 0, moves["promote"].stderr
    assert moves["rollback"].returncode == 0, moves["rollback"].stderr
    statuses = Counter(status for _, status, _ in results)
    assert statuses == {200: len(results)} and len(results) > 100, statuses
    # In time order, with requests in flight at a swap allowed to finish on the old model.
    served = [version for version, _ in groupby(v for _, _, v in sorted(results))]
    assert served[0] == trained.first and served[-1] == trained.first
    assert trained.second in served

    assert model["version"] == trained.first
    champion = model["champion"]
    assert champion["kind"] == "rollback" and champion["previous"] == trained.second
    assert champion["reasons"] == ["forest too slow"] and champion["by"]["tool"] == "cli"
    kinds = [(m["kind"], m["version"], m["previous"]) for m in history["moves"]]
    assert kinds[:2] == [
        ("rollback", trained.first, trained.second),
        ("promote", trained.second, trained.first),
    ]
    assert history["moves"][0] == champion and history["moves"][1]["reasons"] == ["try the forest"]


def create_app_for(root: Path):
    from mlcycle.api import create_app

    return create_app(api_settings(poll_seconds=0.1), serving_for(root))


def test_model_info_of_a_pointer_from_before_the_history(trained: Trained, tmp_path: Path) -> None:
    """A registry written before the history (tests/data/registry-a1f9801): served, with no
    champion move to tell, and an empty history rather than an error."""
    import json
    import shutil

    from fastapi.testclient import TestClient

    from mlcycle.api import create_app

    old = REPO / "tests/data/registry-a1f9801"
    root = tmp_path / "old"
    shutil.copytree(old, root)
    with TestClient(create_app(api_settings(), serving_for(root))) as client:
        model = client.get("/v1/model").json()
        assert model["version"] == "20261202-060209-8656e5" and model["champion"] is None
        history = client.get("/v1/model/history").json()
        assert history == {"model_version": model["version"], "moves": [], "problem": None}
        bad = client.get("/v1/model/history", params={"limit": 0})
        assert bad.status_code == 422 and "limit" in bad.text
    # The next move starts the history, its `previous` the old champion; rollback returns.
    shutil.copytree(
        trained.root / "models/versions" / trained.second,
        root / "models/versions" / trained.second,
    )
    assert mlcycle("promote", trained.second, "--root", str(root)).returncode == 0
    result = mlcycle("rollback", "--root", str(root))
    assert result.returncode == 0, result.stderr
    shown = mlcycle("champion", "--json", "--root", str(root))
    moves = json.loads(shown.stdout)["history"]
    assert [(m["seq"], m["kind"], m["version"], m["previous"]) for m in moves] == [
        (2, "rollback", model["version"], trained.second),
        (1, "promote", trained.second, model["version"]),
    ]
