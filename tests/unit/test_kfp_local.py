"""What mlcycle relies on in kfp.local (pipeline/kfp_local.py), on a real two-step pipeline.

kfp is pinned (constraints.txt); when an upgrade changes any of this, these tests say which
part: the functions wrapped, the states a step goes through, where a run's files land.
"""

# No `from __future__ import annotations`: KFP reads the components' real annotations.
from pathlib import Path

import kfp.local
import pytest
from kfp import dsl
from kfp.dsl import Artifact, Input, Output
from kfp.local import task_dispatcher
from kfp.local.orchestrator import task_executor

from mlcycle.pipeline import kfp_local


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def make(text: str, made: Output[Artifact]) -> str:
    from pathlib import Path

    Path(made.path).write_text(text)
    return text.upper()


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def check(shout: str, made: Input[Artifact], report: Output[Artifact]):
    from pathlib import Path

    Path(report.path).write_text(Path(made.path).read_text())
    if shout == "FAIL":
        raise ValueError("rejected")  # after writing the report, as ingest and validate do


@dsl.pipeline(name="adapter-check")
def two_steps(text: str) -> Artifact:
    first = make(text=text)
    return check(shout=first.outputs["Output"], made=first.outputs["made"]).outputs["report"]


def run(root: Path, text: str) -> tuple[kfp_local.Recording, list[tuple[str, str]]]:
    events: list[tuple[str, str]] = []
    kfp.local.init(
        runner=kfp.local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        enable_caching=True,
        raise_on_error=False,
    )
    with kfp_local.recording(lambda step, state: events.append((step, state))) as rec:
        two_steps(text=text)
    return rec, events


def test_states_run_folder_outputs_and_cache_hits(tmp_path: Path) -> None:
    first, events = run(tmp_path, "hello")
    assert events == [
        ("make", "running"),
        ("make", "done"),
        ("check", "running"),
        ("check", "done"),
    ]
    assert first.steps == {"make": "done", "check": "done"}
    assert first.failed_step is None
    # <pipeline_root>/<pipeline>-<timestamp>/<task>/<output>
    assert first.run_dir is not None and first.run_dir.parent == tmp_path
    assert first.run_dir.name.startswith("adapter-check-")
    report = first.output_path("check", "report")
    assert report == first.run_dir / "check" / "report" == first.step_dir("check") / "report"
    assert report.read_text() == "hello"
    assert first.outputs["make"]["Output"] == "HELLO"

    again, events = run(tmp_path, "hello")
    assert events == [("make", "cached"), ("check", "cached")]
    # A cache hit's outputs are the earlier run's files.
    assert again.output_path("check", "report") == report


def test_a_failed_step_is_named_and_its_report_found(tmp_path: Path) -> None:
    rec, events = run(tmp_path, "fail")
    assert events[-2:] == [("check", "running"), ("check", "failed")]
    assert rec.failed_step == "check"
    assert rec.output_path("check", "report") is None  # kfp returns no outputs for it
    assert (rec.step_dir("check") / "report").read_text() == "fail"


def test_outside_a_recording_kfp_runs_as_it_would(tmp_path: Path) -> None:
    kfp_local.install()
    kfp.local.init(runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    task = make(text="plain")
    assert task.outputs["Output"] == "PLAIN"


def test_the_functions_it_wraps_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    kfp_local.install()
    assert task_executor.execute_single_task is kfp_local.run_task
    assert task_dispatcher.run_single_task_implementation is kfp_local.execute_task
    kfp_local.install()  # twice is harmless

    def changed(task_name, task_spec, pipeline_resource_name, components, retries):
        raise AssertionError("never called")

    monkeypatch.setattr(task_executor, "execute_single_task", changed)
    with pytest.raises(RuntimeError, match="update the adapter"):
        kfp_local.install()
    assert task_executor.execute_single_task is changed
