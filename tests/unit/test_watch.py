"""The watcher's decisions: when a change is due, and that the loop outlives bad runs.

The loop runs on a real folder with a scripted runner and clock; the real pipeline behind
`mlcycle watch` is exercised in tests/integration/test_watch_process.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcycle import watch as watch_module
from mlcycle.data.report import DataReport, Issue
from mlcycle.pipeline.local import RunResult
from mlcycle.watch import Debounce, WatchEvent, outcome, watch

# -- Debounce ------------------------------------------------------------------------------


def test_nothing_is_due_while_the_listing_is_the_handled_one() -> None:
    d = Debounce(settle=1.0, handled="a")
    assert not any(d.due("a", t) for t in (0.0, 5.0, 100.0))


def test_a_change_is_due_once_it_has_been_still_for_the_settle_time() -> None:
    d = Debounce(settle=2.0, handled="a")
    assert not d.due("b", 10.0)
    assert not d.due("b", 11.9)
    assert d.due("b", 12.0)


def test_a_listing_still_changing_is_not_due() -> None:
    d = Debounce(settle=2.0, handled="a")
    for t, fp in ((0.0, "b"), (1.5, "c"), (3.0, "d"), (4.5, "e")):
        assert not d.due(fp, t)
    assert d.due("e", 6.5)


def test_zero_settle_runs_at_first_sight() -> None:
    assert Debounce(settle=0.0, handled="a").due("b", 0.0)


def test_a_handled_change_is_not_due_again_and_a_revert_cancels_a_pending_one() -> None:
    d = Debounce(settle=1.0, handled="a")
    d.due("b", 0.0)
    assert d.due("b", 1.0)
    d.mark_handled("b")
    assert not d.due("b", 50.0)
    assert not d.due("c", 51.0)  # pending
    assert not d.due("b", 51.5)  # back to what was trained on: nothing to do
    assert d.pending is None


# -- outcome -------------------------------------------------------------------------------


def result(**fields: object) -> RunResult:
    return RunResult(
        **{"ok": False, "run_dir": None, "log_path": "/tmp/run.log", "seconds": 1.0, **fields}
    )


def registration(promoted: bool, registered: bool = True) -> dict:
    return {
        "version": "v2",
        "promoted": promoted,
        "registered": registered,
        "champion": "v2" if promoted else "v1",
        "gate": {
            "decision": "promoted" if promoted else "rejected",
            "promote": promoted,
            "reasons": ["recall 0.9 below threshold 0.95"],
        },
        "metrics": {"roc_auc": 0.99},
        "champion_before": None,
        "candidate": "logistic_regression",
        "warnings": [],
        "onnx": None,
    }


def test_outcome_names_what_happened() -> None:
    promoted = outcome(result(ok=True, registration=registration(True)))
    assert promoted.kind == "promoted" and "v2" in promoted.message
    kept = outcome(result(ok=True, registration=registration(False)))
    assert kept.kind == "kept"
    assert "recall 0.9 below threshold" in kept.message and "champion: v1" in kept.message
    same = outcome(result(ok=True, registration=registration(False, registered=False)))
    assert "same model as version v2" in same.message
    report = DataReport("ingest", errors=[Issue("unreadable_file", "not UTF-8", file="x.csv")])
    rejected = outcome(result(rejection=report, failed_step="ingest"))
    assert rejected.kind == "rejected" and "x.csv" in rejected.message
    failed = outcome(result(failed_step="train"))
    assert (
        failed.kind == "failed" and "train" in failed.message and "/tmp/run.log" in failed.message
    )


# -- the loop ------------------------------------------------------------------------------


class Script:
    """A fake clock and sleep that also plays file changes at given ticks."""

    def __init__(self, incoming: Path, actions: dict[int, object], ticks: int) -> None:
        self.incoming, self.actions, self.ticks = incoming, actions, ticks
        self.tick, self.now = 0, 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.tick += 1
        action = self.actions.get(self.tick)
        if callable(action):
            action(self.incoming)

    def stop(self) -> bool:
        return self.tick >= self.ticks


def add(name: str, text: str = "a,b\n1,2\n"):
    return lambda incoming: (incoming / name).write_text(text)


def test_the_loop_runs_once_per_settled_change_and_survives_failures(tmp_path: Path) -> None:
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "start.csv").write_text("a,b\n0,0\n")
    runs: list[set[str]] = []
    outcomes = iter(
        [
            RuntimeError("boom"),  # the first run crashes outright
            result(failed_step="validate"),  # the second fails
            result(ok=True, registration=registration(True)),
        ]
    )

    def run() -> RunResult:
        runs.append({p.name for p in incoming.iterdir()})
        out = next(outcomes)
        if isinstance(out, Exception):
            raise out
        return out

    # Ticks are 1 s apart and settle is 1 s: a change is seen, then run one tick later.
    script = Script(incoming, {2: add("one.csv"), 6: add("two.csv"), 10: add("three.csv")}, 16)
    events: list[WatchEvent] = []
    watch(
        str(tmp_path),
        run,
        events.append,
        interval=1.0,
        should_stop=script.stop,
        sleep=script.sleep,
        clock=lambda: script.now,
    )
    kinds = [e.kind for e in events]
    assert kinds == ["watching", "run", "failed", "run", "failed", "run", "promoted"]
    assert "boom" in events[2].message
    # Data present at the start was not trained on by the watcher; each run saw its change.
    assert runs == [
        {"start.csv", "one.csv"},
        {"start.csv", "one.csv", "two.csv"},
        {"start.csv", "one.csv", "two.csv", "three.csv"},
    ]


def test_a_failed_listing_is_reported_and_the_loop_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = watch_module.incoming_fingerprint
    calls = iter([real, OSError("bucket unreachable"), real, real])

    def flaky(root: str) -> str:
        step = next(calls)
        if isinstance(step, Exception):
            raise step
        return step(root)

    monkeypatch.setattr(watch_module, "incoming_fingerprint", flaky)
    script = Script(tmp_path, {}, 3)
    events: list[WatchEvent] = []
    watch(
        str(tmp_path),
        lambda: pytest.fail("no change, no run"),
        events.append,
        interval=1.0,
        should_stop=script.stop,
        sleep=script.sleep,
        clock=lambda: script.now,
    )
    assert [e.kind for e in events] == ["watching", "error"]
    assert "bucket unreachable" in events[1].message
    assert script.tick == 3  # it kept polling after the error


def test_files_a_rejected_run_moved_away_do_not_start_another_run(tmp_path: Path) -> None:
    """The rest of the data was just handled: moving a rejected file out is not new data."""
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "start.csv").write_text("a,b\n0,0\n")
    runs = 0

    def run() -> RunResult:
        nonlocal runs
        runs += 1
        (incoming / "bad.csv").rename(tmp_path / "bad.csv")  # as quarantine does
        report = DataReport("ingest", errors=[Issue("unreadable_file", "empty", file="bad.csv")])
        report.info["quarantined"] = [{"file": "bad.csv", "to": str(tmp_path / "bad.csv")}]
        return result(rejection=report, failed_step="ingest")

    script = Script(incoming, {2: add("bad.csv")}, 10)
    events: list[WatchEvent] = []
    watch(
        str(tmp_path),
        run,
        events.append,
        interval=1.0,
        should_stop=script.stop,
        sleep=script.sleep,
        clock=lambda: script.now,
    )
    assert [e.kind for e in events] == ["watching", "run", "rejected"]
    assert runs == 1
    assert "there is no champion yet" in events[2].message


def test_a_drift_check_runs_every_drift_interval_and_retrains_when_it_says_so(
    tmp_path: Path,
) -> None:
    """The checks' answers are scripted: whether to retrain is monitor.claim_retrain's call
    (tests/unit/test_drift.py); the loop runs the pipeline exactly when told, and a failing
    check is reported without ending the watch."""
    from types import SimpleNamespace

    checks: list[float] = []
    answers = iter([("alert", True), ("alert", False), RuntimeError("no champion"), ("ok", False)])
    script = Script(tmp_path, {}, 16)

    def drift():
        checks.append(script.now)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        status, retrain = answer
        return SimpleNamespace(status=status, message="m", id="r1"), retrain

    runs: list[float] = []
    events: list[WatchEvent] = []
    watch(
        str(tmp_path),
        lambda: runs.append(script.now) or result(ok=True, registration=registration(False)),
        events.append,
        interval=1.0,
        drift=drift,
        drift_interval=4.0,
        should_stop=script.stop,
        sleep=script.sleep,
        clock=lambda: script.now,
    )
    assert checks == [0.0, 4.0, 8.0, 12.0]
    assert runs == [0.0]  # only the first check asked for a run
    assert [e.kind for e in events] == [
        "watching", "drift", "run", "kept", "drift", "drift", "drift"
    ]  # fmt: skip
    assert "drift past psi_alert (report r1)" in events[2].message
    assert events[5].message == "not measured: no champion"
