"""A local run's steps live only as long as the `mlcycle run` (or watch) that started them.

kfp.local's SubprocessRunner starts each step as `sh -c '... python -m kfp.dsl.executor_main'`
and leaves it running if its parent dies. `install` swaps its process start for `run_step`:

- the step's `sh` gets its own process group and PR_SET_PDEATHSIG=SIGKILL, so it dies with
  the run even on kill -9; the step's Python process (a child of that `sh`) sets the same for
  itself in `hold`, the first thing every component does;
- Ctrl-C or SIGTERM to the run (a KeyboardInterrupt there) kills the step's whole process
  group before the interrupt goes on;
- every step sees its run's pid in MLCYCLE_RUN_OWNER, and the register step writes nothing
  once that process is gone (`require_owner`).

On Vertex AI and in containers no owner is set, and all of this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from typing import Any

OWNER_ENV = "MLCYCLE_RUN_OWNER"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
# kfp.local.subprocess_task_handler.run_local_subprocess's parameters, as run_step knows them.
EXPECTED = ("full_command", "env_vars")


class RunAbandonedError(RuntimeError):
    """The run that started this step has ended: the step must not change the registry."""


def _prctl() -> Any:
    return ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent(prctl: Any = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (elsewhere: nothing)."""
    prctl = prctl or _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def owner_alive() -> bool:
    """Whether the run that started this step still exists (True when no owner is set)."""
    owner = os.environ.get(OWNER_ENV)
    if not owner:
        return True
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, as another user
        return True
    return True


def hold() -> None:
    """Called first in a step's process: end now if the run is gone, and die with it later."""
    if not os.environ.get(OWNER_ENV):
        return
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent or not owner_alive():  # it died before the line above
        os._exit(1)


def require_owner() -> None:
    """RunAbandonedError if the run that started this step has ended."""
    if not owner_alive():
        raise RunAbandonedError(
            f"the mlcycle run (pid {os.environ[OWNER_ENV]}) that started this step has "
            "ended; nothing is registered or promoted"
        )


def run_step(full_command: list[str], env_vars: dict[str, str] | None = None) -> int:
    """kfp.local's step start, tied to this process's life; the step's exit code."""
    env = {**os.environ, **(env_vars or {}), OWNER_ENV: str(os.getpid())}
    from mlcycle.pipeline import warm
    from mlcycle.settings import get_settings

    if get_settings().warm_steps and (step := warm.parse(full_command)):
        return warm.run_step(step, env)  # forked from a process that has the imports done
    prctl = _prctl()  # looked up here: between fork and exec only the call itself is safe
    process = subprocess.Popen(
        full_command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # as kfp.local does: step logs come out of stdout
        text=True,
        bufsize=1,
        env=env,
        process_group=0,  # the step and its children: one group, killed as one
        preexec_fn=lambda: die_with_parent(prctl),
    )
    try:
        assert process.stdout is not None
        for line in iter(process.stdout.readline, ""):
            print(line, end="")
        print("\n")
        return process.wait()
    except BaseException:
        kill_group(process)
        raise


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL a step's process group and reap its leader."""
    kill_pid_group(process.pid)
    process.wait()


def kill_pid_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (nothing if it is gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def install() -> None:
    """Make kfp.local's SubprocessRunner start steps through `run_step`."""
    from kfp.local import subprocess_task_handler

    from mlcycle.pipeline import kfp_patch

    kfp_patch.replace(subprocess_task_handler, "run_local_subprocess", run_step, EXPECTED)
