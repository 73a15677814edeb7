"""Two runs promoting at once: the pointer switch is a compare-and-swap, one wins, one says so."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from faultkit import as_text, invoke, model_bytes

from mlcycle import storage
from mlcycle.model import registration
from mlcycle.model.champion import ChampionPointer
from mlcycle.model.registry import ChampionChangedError, Registry
from mlcycle.pipeline import local

METRICS = {"roc_auc": 0.99, "accuracy": 0.97, "precision": 0.96, "recall": 0.98, "f1": 0.97}


def test_racing_promotions_exactly_one_wins(
    registry: Registry, new_version, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = new_version("prior"), new_version("uniform")
    real_read = storage.read_with_generation

    def slow_read(uri: str) -> tuple[bytes | None, str]:
        out = real_read(uri)
        time.sleep(0.3)  # widen the read-compare-write window: both runs read "no champion"
        return out

    monkeypatch.setattr(storage, "read_with_generation", slow_read)
    outcomes: dict[str, Any] = {}
    start = threading.Barrier(2)

    def promote(version: str) -> None:
        start.wait()
        try:
            outcomes[version] = registry.promote(version, expected=None)
        except ChampionChangedError as exc:
            outcomes[version] = exc

    threads = [threading.Thread(target=promote, args=(v,)) for v in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    [winner] = [v for v, out in outcomes.items() if isinstance(out, ChampionPointer)]
    [loser] = [v for v, out in outcomes.items() if isinstance(out, ChampionChangedError)]
    assert registry.champion_version() == winner
    assert registry.champion_pointer().previous is None
    message = str(outcomes[loser])
    assert f"not promoted: {loser}" in message and f"made {winner} the champion" in message


def test_a_stale_expectation_leaves_the_pointer_alone(registry: Registry, new_version) -> None:
    a, b = new_version("prior"), new_version("uniform")
    registry.promote(a, expected=None)
    before = Path(registry.pointer_uri).read_bytes()
    with pytest.raises(ChampionChangedError, match=f"another run made {a} the champion"):
        registry.promote(b, expected=None)
    assert Path(registry.pointer_uri).read_bytes() == before
    registry.promote(b, expected=a)  # the right expectation wins
    assert registry.champion_pointer().previous == a


def _candidate(config: Any) -> registration.Candidate:
    """A challenger as the register step reads it from its inputs (a stand-in model)."""
    return registration.Candidate(
        config=config,
        types={},
        model=None,
        model_bytes=model_bytes("stratified"),
        cleaned=pd.DataFrame({config.label: ["a", "b"]}),
        test=pd.DataFrame(),
        evaluation={
            "metrics": {**METRICS, "brier": 0.02},
            "champion": None,
            "classes": ["a", "b"],
            "confusion": [[1, 0], [0, 1]],
            "test_rows": 2,
        },
        training={"chosen": "dummy"},
        validation={"warnings": [], "info": {}},
        cleaning={},
        lineage={"data_hash": "0" * 64},
    )


def test_a_registration_that_loses_records_it_and_says_so(
    registry: Registry, new_version, config, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = new_version("prior")
    real_register = Registry.register

    def register_then_lose(self: Registry, files: dict, meta: Any) -> Any:
        out = real_register(self, files, meta)
        Registry(self.root).promote(other, expected=None)  # the other run promotes first
        return out

    monkeypatch.setattr(Registry, "register", register_then_lose)
    # No ONNX export nor report for the stand-in model: only the model file.
    monkeypatch.setattr(
        registration, "version_files", lambda c, meta: (meta, {"model.joblib": c.model_bytes})
    )
    summary, _ = registration.register_candidate(registry, _candidate(config), None)
    assert summary.lost is True and summary.promoted is False
    assert summary.champion == other
    recorded = registry.get(summary.version).gate
    assert recorded.decision == "rejected" and not recorded.promote
    assert any("another run made" in r for r in recorded.reasons)


def test_the_cli_says_the_run_lost_and_exits_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "log.txt"
    log.write_text("")
    reg = {
        "version": "20260101-000000-bbbbbb",
        "registered": True,
        "promoted": False,
        "lost": True,
        "gate": {"decision": "rejected", "promote": False, "reasons": ["not promoted: ..."]},
        "metrics": {**METRICS, "brier": 0.02},
        "champion_before": None,
        "champion": "20260101-000000-aaaaaa",
        "candidate": "dummy",
        "warnings": [],
        "onnx": None,
    }
    result = local.RunResult(True, None, str(log), 1.0, registration=reg)
    monkeypatch.setattr(local, "run_pipeline", lambda *a, **k: result)
    code, out = invoke("run", "--root", str(tmp_path / "root"))
    assert code == 3, out
    assert "this run lost: another run made 20260101-000000-aaaaaa the champion" in as_text(out)
