"""What mlcycle reads of a kfp.local run, in one place: each step's state as it changes, the
run's folder, and what each step wrote.

kfp.local (2.17) tells its caller none of this: running a pipeline returns the pipeline's
outputs, or `{}` once a step failed, and logs the rest as text. `install` wraps two of its
functions, after checking they are the ones this adapter was written for (kfp_patch): one
task's run, cache lookup included (`task_executor.execute_single_task`), and one task's
execution (`task_dispatcher.run_single_task_implementation`, which a cache hit skips). While
`recording()` is open, every call is recorded; otherwise they pass straight through.

kfp.local runs a plain DAG's tasks one after another in the calling thread, which is what
the module-level state below relies on. tests/unit/test_kfp_local.py runs a small pipeline
through this adapter and fails when kfp changes any behaviour relied on here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

StepCallback = Callable[[str, str], None]  # (step, "running" | "done" | "cached" | "failed")

# The parameters of the kfp.local functions wrapped, as this adapter knows them.
EXPECTED_TASK = (
    "task_name",
    "task_spec",
    "pipeline_resource_name",
    "components",
    "executors",
    "io_store",
    "pipeline_root",
    "runner",
    "unique_pipeline_id",
    "fail_stack",
)
EXPECTED_EXECUTION = (
    "pipeline_resource_name",
    "component_name",
    "component_spec",
    "executor_spec",
    "arguments",
    "pipeline_root",
    "runner",
    "raise_on_error",
    "block_input_artifact",
    "unique_pipeline_id",
)


@dataclass
class Recording:
    """One local run as kfp.local ran it."""

    on_step: StepCallback | None = None
    steps: dict[str, str] = field(default_factory=dict)  # step -> its last state
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> its outputs
    run_dir: Path | None = None  # <pipeline_root>/<pipeline>-<timestamp>

    def step_dir(self, step: str) -> Path | None:
        """Where kfp.local put `step`'s output artifacts (also when it failed)."""
        return self.run_dir / step if self.run_dir else None

    def output_path(self, step: str, name: str) -> Path | None:
        """The local file of artifact `name` that `step` wrote (None if it did not finish)."""
        artifact = self.outputs.get(step, {}).get(name)
        return Path(artifact.path) if artifact is not None else None

    @property
    def failed_step(self) -> str | None:
        return next((s for s, state in self.steps.items() if state == "failed"), None)

    def set_state(self, step: str, state: str) -> None:
        self.steps[step] = state
        if self.on_step:
            self.on_step(step, state)


_original: dict[str, Callable[..., Any]] = {}  # "task", "execution": kfp's own functions
_recording: Recording | None = None
_task: str | None = None  # the task being run, while it is
_ran = False  # whether it was executed (False: answered from the cache)


def run_task(**kwargs: Any) -> Any:
    """kfp.local's one-task run (cache lookup, retries), recorded."""
    from kfp.local import status

    global _task, _ran
    rec = _recording
    if rec is None:
        return _original["task"](**kwargs)
    task = kwargs["task_name"]
    rec.run_dir = Path(kwargs["pipeline_root"]) / kwargs["pipeline_resource_name"]
    _task, _ran = task, False
    try:
        outputs, task_status = _original["task"](**kwargs)
    finally:
        _task, ran = None, _ran
    if task_status == status.Status.SUCCESS:
        rec.outputs[task] = outputs
        if not ran:
            rec.set_state(task, "cached")
    elif not ran:
        rec.set_state(task, "failed")
    return outputs, task_status


def execute_task(**kwargs: Any) -> Any:
    """kfp.local's execution of one task's container or subprocess, recorded."""
    from kfp.local import status

    global _ran
    rec, task = _recording, _task
    if rec is None or task is None:
        return _original["execution"](**kwargs)
    _ran = True
    rec.set_state(task, "running")
    outputs, task_status = _original["execution"](**kwargs)
    rec.set_state(task, "done" if task_status == status.Status.SUCCESS else "failed")
    return outputs, task_status


def install() -> None:
    """Wrap kfp.local's task run and task execution (twice is harmless)."""
    from kfp.local import task_dispatcher
    from kfp.local.orchestrator import task_executor

    from mlcycle.pipeline import kfp_patch

    for module, name, wrapper, expected, key in (
        (task_executor, "execute_single_task", run_task, EXPECTED_TASK, "task"),
        (
            task_dispatcher,
            "run_single_task_implementation",
            execute_task,
            EXPECTED_EXECUTION,
            "execution",
        ),
    ):
        current = getattr(module, name)
        kfp_patch.replace(module, name, wrapper, expected)  # raises if kfp changed it
        if current is not wrapper:
            _original[key] = current


@contextlib.contextmanager
def recording(on_step: StepCallback | None = None) -> Iterator[Recording]:
    """Record the kfp.local run started inside this block."""
    global _recording
    install()
    previous, _recording = _recording, Recording(on_step)
    try:
        yield _recording
    finally:
        _recording = previous
