"""Retrain when the incoming data changes: the local stand-in for the cloud's bucket
notification -> Pub/Sub -> Cloud Build trigger.

The loop polls the incoming listing's fingerprint (names, sizes, modification times: the
same value a run passes to the pipeline), waits until it has stopped changing (a file still
being copied is not trained on), runs the pipeline, reports the outcome and goes on, whatever
that outcome was. Runs happen inside the loop, so there is never more than one at a time; a
change made during a run is picked up after it.

With a drift check (`mlcycle watch --on-drift`) the loop also runs the drift monitor every
`drift_interval` seconds and retrains when the check says so: once per alerting report
(monitor.claim_retrain), so the same drift over the same logged predictions is retrained on
once, not at every look.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mlcycle import storage
from mlcycle.data.incoming import fingerprint, incoming_fingerprint, incoming_uri
from mlcycle.pipeline.local import RunResult

if TYPE_CHECKING:
    from mlcycle.model.drift import DriftReport

EventKind = Literal["watching", "run", "promoted", "kept", "rejected", "failed", "error", "drift"]
# A drift check: the report it wrote, and whether to retrain for it.
DriftCheck = Callable[[], "tuple[DriftReport, bool]"]


@dataclass(frozen=True)
class WatchEvent:
    kind: EventKind
    message: str
    result: RunResult | None = None


@dataclass
class Debounce:
    """Says when a changed listing has been still for `settle` seconds: time to train on it."""

    settle: float
    handled: str  # the fingerprint last trained on, or seen when the watch began
    pending: str | None = None
    since: float = 0.0

    def due(self, current: str, now: float) -> bool:
        if current == self.handled:
            self.pending = None
            return False
        if current != self.pending:  # a new change: start its quiet period
            self.pending, self.since = current, now
        return now - self.since >= self.settle

    def mark_handled(self, current: str) -> None:
        self.handled, self.pending = current, None


def outcome(result: RunResult, root: str | None = None) -> WatchEvent:
    """One line that says how a run ended (given the root, a rejection says what to do)."""
    if result.ok and result.registration:
        from mlcycle.model.registration import Registration

        reg = Registration.model_validate(result.registration)
        if reg.promoted:
            return WatchEvent("promoted", f"version {reg.version} is the new champion", result)
        what = (
            f"version {reg.version} registered"
            if reg.registered
            else f"same model as version {reg.version}"
        )
        reasons = "; ".join(reg.gate.reasons)
        return WatchEvent(
            "kept", f"{what}, not promoted ({reasons}); champion: {reg.champion}", result
        )
    if result.rejection is not None:
        message = f"data rejected:\n{result.rejection.render()}"
        if root is not None:
            from mlcycle.data.quarantine import rejection_advice
            from mlcycle.model.registry import Registry

            champion = Registry(root).champion_version()
            message += "\n" + rejection_advice(result.rejection, root, champion)
        return WatchEvent("rejected", message, result)
    return WatchEvent(
        "failed", f"step {result.failed_step or '?'} failed; log: {result.log_path}", result
    )


def _quarantined(event: WatchEvent) -> set[str]:
    """The files a rejected run moved out of the incoming folder."""
    rejection = event.result.rejection if event.result else None
    return {m["file"] for m in rejection.info.get("quarantined", [])} if rejection else set()


def watch(
    root: str,
    run: Callable[[], RunResult],
    on_event: Callable[[WatchEvent], None],
    *,
    interval: float = 2.0,
    settle: float | None = None,
    drift: DriftCheck | None = None,
    drift_interval: float = 600.0,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll every `interval` seconds and `run` once per settled change, until `should_stop`.

    `settle` (default: `interval`) is how long a changed listing must stay unchanged before
    a run. The data present at the start counts as handled: start with `mlcycle run`.
    `drift`, when given, is called at the start and then every `drift_interval` seconds; a
    run starts when it answers True.
    """
    debounce = Debounce(interval if settle is None else settle, incoming_fingerprint(root))
    on_event(WatchEvent("watching", f"{incoming_uri(root)} every {interval:g}s"))

    def run_once(reason: str) -> None:
        on_event(WatchEvent("run", f"{reason}: running the pipeline"))
        files: list[storage.FileInfo] = []
        try:
            files = storage.list_files(incoming_uri(root))  # what this run trains on
            event = outcome(run(), root)
        except Exception as exc:
            event = WatchEvent("failed", f"the run crashed: {exc!r}")
        if moved := _quarantined(event):
            # Files it moved to data/rejected/: the rest was handled, not a new change.
            debounce.mark_handled(fingerprint([f for f in files if f.name not in moved]))
        on_event(event)

    next_drift = clock()
    while not should_stop():
        try:
            current = incoming_fingerprint(root)
        except Exception as exc:  # a flaky listing (network, bucket) must not end the watch
            on_event(WatchEvent("error", f"could not list the incoming data: {exc}"))
        else:
            if debounce.due(current, clock()):
                # Marked before the run: a failed run is not retried until the data changes.
                debounce.mark_handled(current)
                run_once("incoming data changed")
            elif drift is not None and clock() >= next_drift:
                next_drift = clock() + drift_interval
                try:
                    report, retrain = drift()
                except Exception as exc:  # no champion yet, an old one, storage: say, go on
                    on_event(WatchEvent("drift", f"not measured: {exc}"))
                else:
                    on_event(WatchEvent("drift", f"{report.status}: {report.message}"))
                    if retrain:
                        # The data it trains on is handled too: no second run for it.
                        debounce.mark_handled(current)
                        run_once(f"drift past psi_alert (report {report.id})")
        sleep(interval)
