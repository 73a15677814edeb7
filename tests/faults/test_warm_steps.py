"""Steps forked from the warm process (pipeline/warm.py) are still steps of their run: they
die with it, get its environment and report their own exit code and output."""

# No `from __future__ import annotations`: kfp reads the step's real annotations.

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultkit import descendants, still_running, wait_for
from kfp import dsl
from kfp.local.subprocess_task_handler import replace_python_executable

from mlcycle.pipeline import components, warm

OWNER = (
    "import json, sys; from mlcycle.pipeline import lifeline; "
    "sys.exit(lifeline.run_step(json.loads(sys.argv[1])))"
)


def slow_step(marker: str, seconds: float, exit_code: int) -> None:
    import os
    import sys
    import time

    from mlcycle.pipeline import lifeline

    lifeline.hold()
    print(f"held {os.environ.get('MLCYCLE_TEST_VALUE')}", flush=True)
    time.sleep(seconds)
    with open(marker, "w") as f:  # noqa: PTH123 (the component's source stands alone)
        f.write("finished")
    sys.exit(exit_code)


def command(tmp_path: Path, seconds: float, exit_code: int = 0) -> list[str]:
    """The command kfp.local runs for a lightweight component, as kfp writes it."""
    step = dsl.component(slow_step, base_image=components.DEFAULT_IMAGE, install_kfp_package=False)
    container = step.component_spec.implementation.container
    executor_input = {
        "inputs": {
            "parameterValues": {
                "marker": str(tmp_path / "finished"),
                "seconds": seconds,
                "exit_code": exit_code,
            }
        },
        "outputs": {"outputFile": str(tmp_path / "output.json")},
    }
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in container.args]
    return replace_python_executable([*container.command, *args], sys.executable)


def held(run: subprocess.Popen) -> str:
    """The step's first own line (kfp's executor logs before it)."""
    for line in run.stdout:
        if line.startswith("held"):
            return line.strip()
    raise AssertionError("the step never started")


def owner(cmd: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", OWNER, json.dumps(cmd)],
        stdout=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, **env},
    )


def test_every_pipeline_step_is_one_the_warm_process_can_fork() -> None:
    """Fails loudly when kfp changes the command it writes for a lightweight component."""
    for step in (components.ingest, components.train, components.register):
        container = step.component_spec.implementation.container
        cmd = replace_python_executable([*container.command, *container.args], sys.executable)
        assert warm.parse(cmd) is not None, cmd[:3]
    assert warm.parse(["sh", "-c", "echo hi"]) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl")
def test_kill_9_of_the_run_kills_its_forked_step(tmp_path: Path) -> None:
    run = owner(command(tmp_path, seconds=30), MLCYCLE_TEST_VALUE="seen")
    try:
        assert held(run) == "held seen"  # the run's environment, in the step
        started = descendants(run.pid)
        assert [p for p in started if Path(f"/proc/{p}/comm").read_text().strip() == "slow_step"]
        run.kill()
        run.wait()
        assert wait_for(lambda: still_running(started) == [], 2), still_running(started)
    finally:
        run.kill()
        run.wait()
    time.sleep(0.5)
    assert not (tmp_path / "finished").exists()


@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_forked_step_reports_its_exit_code_and_output(tmp_path: Path, exit_code: int) -> None:
    run = owner(command(tmp_path, seconds=0, exit_code=exit_code), MLCYCLE_TEST_VALUE="x")
    out, _ = run.communicate(timeout=60)
    assert run.returncode == exit_code
    assert "held x" in out
    assert (tmp_path / "finished").read_text() == "finished"


def test_warm_steps_can_be_turned_off(tmp_path: Path) -> None:
    """MLCYCLE_WARM_STEPS=0: the step starts cold, through kfp's own shell script."""
    run = owner(command(tmp_path, seconds=5), MLCYCLE_WARM_STEPS="0")
    try:
        assert held(run) == "held None"
        names = [Path(f"/proc/{p}/comm").read_text().strip() for p in descendants(run.pid)]
        assert "sh" in names and "slow_step" not in names, names
    finally:
        run.kill()
        run.wait()


def test_a_change_to_the_step_code_starts_a_new_warm_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forks run the code the warm process imported: once the step code's hash moves on, the
    next step gets a warm process that imported the new code."""
    first = warm.warm_process()
    assert warm.warm_process() is first  # same code: the same process
    monkeypatch.setattr("mlcycle.lineage.code_version", lambda: "edited")
    second = warm.warm_process()
    assert second is not first and second.alive() and not first.alive()
    second.close()
