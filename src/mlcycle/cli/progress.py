"""A run's progress as its steps report it: each step's state and times."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class StepClock:
    """One step's state, and when it started and ended (time.perf_counter)."""

    state: str = "pending"
    started: float | None = None
    ended: float | None = None

    def seconds(self, now: float) -> float | None:
        """How long it has run (so far, while running); None before it started."""
        if self.started is None:
            return None
        return (self.ended if self.ended is not None else now) - self.started


@dataclass
class Progress:
    """What the pipeline's step callbacks said so far, step by step."""

    steps: dict[str, StepClock] = field(default_factory=dict)

    def update(self, step: str, state: str, now: float | None = None) -> None:
        """The pipeline's on_step callback: `state` is running, done, cached or failed."""
        now = time.perf_counter() if now is None else now
        clock = self.steps.setdefault(step, StepClock())
        if state == "running":
            clock.started = now
        elif state in ("done", "failed"):
            clock.ended = now
        clock.state = state

    def get(self, step: str) -> StepClock:
        return self.steps.get(step) or StepClock()

    def running(self) -> list[str]:
        return [step for step, clock in self.steps.items() if clock.state == "running"]
