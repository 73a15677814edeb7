"""Killing `mlcycle run` ends its steps: none survives to register or promote afterwards."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultkit import (
    descendants,
    reads,
    step_processes,
    steps_of,
    still_running,
    wait_for,
    working_on,
)

from mlcycle.pipeline import lifeline

REPO = Path(__file__).resolve().parents[2]


LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl")
# A run as kfp.local starts a step: the owner starts `sh -c`, which starts the step's Python.
STEP = "from mlcycle.pipeline import lifeline; lifeline.hold(); print('held', flush=True); " + (
    "import time; time.sleep(60); open({marker!r}, 'w').write('registered')"
)
OWNER = "import sys; from mlcycle.pipeline import lifeline; lifeline.run_step(sys.argv[1:])"


@LINUX
def test_kill_9_of_the_run_kills_its_step_through_the_shell_between(tmp_path: Path) -> None:
    marker = tmp_path / "registered"
    step = f"{sys.executable} -c {shlex.quote(STEP.format(marker=str(marker)))}; echo after"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, "sh", "-c", step],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout.readline().strip() == "held"
        assert len(steps_of(owner.pid)) == 2  # sh and the step's Python
        owner.kill()
        owner.wait()
        assert wait_for(lambda: steps_of(owner.pid) == [], 5), f"survivors: {steps_of(owner.pid)}"
    finally:
        owner.kill()
        owner.wait()
    assert not marker.exists()


@LINUX
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_killed_run_leaves_no_step_running_and_registers_nothing(
    tmp_path: Path, sig: signal.Signals
) -> None:
    incoming = tmp_path / "data/incoming"
    incoming.mkdir(parents=True)
    (incoming / "rows.csv").write_text("x,diagnosis\n1,benign\n")  # no seeding: starts sooner
    # What an earlier registration killed mid-way left: this run removes it first.
    left = tmp_path / "models/versions/20260101-000000-dead00"
    left.mkdir(parents=True)
    (left / "model.joblib").write_bytes(b"half")
    gone = subprocess.Popen(["true"])
    gone.wait()
    claim = {"host": os.uname().nodename, "pid": gone.pid, "started_at": 0}
    (left / ".registering.json").write_text(json.dumps(claim))
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlcycle.cli", "run", "--root", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started: list[int] = []
    try:
        # A step's Python process is up (the shell and the step, or the warm process and the
        # step forked from it).
        assert wait_for(lambda: len(step_processes(tmp_path, cli.pid)) >= 2, 60)
        started = step_processes(tmp_path, cli.pid)
        cli.send_signal(sig)
        code = cli.wait(timeout=20)
        _, err = cli.communicate()
        survivors = lambda: still_running(started) + working_on(tmp_path, cli.pid)  # noqa: E731
        assert wait_for(lambda: survivors() == [], 5), f"steps still running: {survivors()}"
    finally:
        cli.kill()
        cli.wait()
        for pid in still_running(started) + working_on(tmp_path, cli.pid):  # leave none behind
            os.kill(pid, signal.SIGKILL)
    assert code == 130
    assert "stopped during" in err and "none is left running" in err
    assert "Traceback" not in err
    time.sleep(1)  # an orphaned step registered seconds after the CLI died: give it the time
    assert list((tmp_path / "models").rglob("metadata.json")) == []
    assert not left.exists()
    assert not (tmp_path / "models/champion.json").exists()


def test_the_register_step_writes_nothing_once_its_run_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: this pid names no process now
    monkeypatch.setenv(lifeline.OWNER_ENV, str(dead.pid))
    assert not lifeline.owner_alive()
    with pytest.raises(lifeline.RunAbandonedError, match=f"pid {dead.pid}"):
        lifeline.require_owner()
    monkeypatch.setenv(lifeline.OWNER_ENV, str(os.getpid()))
    lifeline.require_owner()  # alive: no error


def test_the_adapter_matches_this_kfp() -> None:
    from kfp.local import subprocess_task_handler

    lifeline.install()
    assert subprocess_task_handler.run_local_subprocess is lifeline.run_step


@LINUX
@pytest.mark.slow
def test_kill_9_during_the_register_step_promotes_nothing(tmp_path: Path) -> None:
    """The step that promotes, killed with its run (kill -9: no handler of the CLI runs)."""
    cli = subprocess.Popen(  # a root with no data: the run seeds the default data and trains
        [sys.executable, "-m", "mlcycle.cli", "run", "--root", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def registering() -> bool:
        """A register step runs: started cold (its arguments name it) or forked warm (its
        process is named after its function)."""
        cold = (Path(f"/proc/{pid}/cmdline") for pid in working_on(tmp_path, cli.pid))
        warm = (Path(f"/proc/{pid}/comm") for pid in descendants(cli.pid))
        return any(reads(path, b"register") for path in (*cold, *warm))

    started: list[int] = []
    try:
        assert wait_for(lambda: registering() or cli.poll() is not None, 120)
        started = step_processes(tmp_path, cli.pid)
        assert cli.poll() is None, "the run ended before its register step was seen"
        cli.kill()
        cli.wait()
        survivors = lambda: still_running(started) + working_on(tmp_path, cli.pid)  # noqa: E731
        assert wait_for(lambda: survivors() == [], 5), f"steps still running: {survivors()}"
    finally:
        cli.kill()
        cli.wait()
        for pid in still_running(started) + working_on(tmp_path, cli.pid):
            os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    assert list((tmp_path / "models").rglob("metadata.json")) == []
    assert not (tmp_path / "models/champion.json").exists()
