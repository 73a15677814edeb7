"""Local steps forked from a warm process instead of started cold.

kfp.local's SubprocessRunner starts every step as a fresh `sh -c '... python -m
kfp.dsl.executor_main ...'`, and each step then spends a second or more importing kfp,
pandas, scikit-learn, skl2onnx before its own work: most of a cold local run. Here one
*warm* process (`python -m mlcycle.pipeline.warm`, started at a run's first step) imports
them once, and each step is a fork of it that runs kfp's executor exactly as the shell script
would (the same component file, arguments and environment), in a process of its own: steps
stay isolated from the run and from each other. Between forks, and while a step runs on the
other core, the warm process imports the modules later steps need.

A step is forked only when its command is the one kfp writes for a lightweight component
(`LIGHTWEIGHT`) run by this interpreter; anything else starts cold, as before. Set
MLCYCLE_WARM_STEPS=0 to start every step cold. The Docker runner, Vertex AI and the
containers never come here.

Lifetimes (see lifeline.py): the warm process dies with the run (PR_SET_PDEATHSIG) and each
forked step with the warm process, so kill -9 of the run still takes every step with it; a
step has its own process group, which the run kills on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The shell script kfp.dsl.component_factory writes for a lightweight component, once kfp.local
# has put its interpreter in place of `python3`. Checked against kfp's own output in the tests.
LIGHTWEIGHT = re.compile(
    r"program_path=\$\(mktemp -d\)\s+"
    r'printf "%s" "\$0" > "\$program_path/ephemeral_component\.py"\s+'
    r"_KFP_RUNTIME=true (?P<python>\S+) -m kfp\.dsl\.executor_main\s+"
    r'--component_module_path\s+"\$program_path/ephemeral_component\.py"\s+"\$@"\s*'
)
# What steps import, in the order they need it: kfp's executor first (every step), the data
# steps' libraries next, then training's, then registration's.
WARM_MODULES = (
    "kfp.dsl.executor_main",
    "mlcycle.pipeline.lifeline",
    "mlcycle.pipeline.contract",
    "mlcycle.pipeline.steps",
    "pandas",
    "pyarrow.parquet",
    "mlcycle.data.ingest",
    "mlcycle.data.validate",
    "mlcycle.data.clean",
    "mlcycle.data.split",
    "mlcycle.model.train",
    "mlcycle.model.evaluate",
    "mlcycle.model.plots",
    "mlcycle.model.export",
    "mlcycle.model.report",
    "mlcycle.model.registration",
)
_PR_SET_NAME = 15  # linux/prctl.h
MAX_MESSAGE = 16 * 1024 * 1024  # a component's source and its executor input


@dataclass(frozen=True)
class Step:
    """What the shell script would run: kfp's executor on this component source."""

    source: str
    args: list[str]


def parse(full_command: list[str]) -> Step | None:
    """The step a kfp lightweight-component command runs, or None for any other command."""
    if len(full_command) < 4 or full_command[:2] != ["sh", "-ec"]:
        return None
    match = LIGHTWEIGHT.fullmatch(full_command[2])
    if not match or os.path.realpath(match["python"]) != os.path.realpath(sys.executable):
        return None
    return Step(source=full_command[3], args=full_command[4:])


# -- the run's side --------------------------------------------------------------------------


class WarmProcess:
    """The run's handle on its warm process: `start_step` forks a step, `wait` reaps it."""

    def __init__(self) -> None:
        from mlcycle.lineage import code_version
        from mlcycle.pipeline.lifeline import _prctl, die_with_parent

        # The step code it imports: a fork runs that, so a change means a new warm process.
        self.code_version = code_version()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        prctl = _prctl()
        self._socket = ours
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlcycle.pipeline.warm", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env={**os.environ, "_KFP_RUNTIME": "true"},
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: die_with_parent(prctl),
        )
        theirs.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def start_step(self, step: Step, env: dict[str, str], output: int) -> int:
        """Fork `step` with `env`, its stdout and stderr on the pipe end `output`; its pid."""
        fields = {"source": step.source, "args": step.args, "env": env, "cwd": str(Path.cwd())}
        request = json.dumps(fields).encode()
        with self._lock:
            socket.send_fds(self._socket, [request], [output])
            return int(self._receive()["pid"])

    def wait(self) -> int:
        """The exit code of the step started last (negative: killed by that signal)."""
        with self._lock:
            return int(self._receive()["exit_code"])

    def _receive(self) -> dict[str, Any]:
        message = self._socket.recv(MAX_MESSAGE)
        if not message:
            raise RuntimeError("the warm step process has ended")
        return json.loads(message)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()


_warm: WarmProcess | None = None


def warm_process() -> WarmProcess:
    """This process's warm process, started on first use, and again if it has died or the
    step code has changed since it imported it (a long `mlcycle watch` while code is edited:
    a step must run the code its run's code_version names)."""
    global _warm
    from mlcycle.lineage import code_version

    if _warm is not None and (not _warm.alive() or _warm.code_version != code_version()):
        _warm.close()
        _warm = None
    if _warm is None:
        _warm = WarmProcess()
    return _warm


def run_step(step: Step, env: dict[str, str]) -> int:
    """Run `step` in a fork of the warm process, echoing its output; its exit code."""
    from mlcycle.pipeline.lifeline import kill_pid_group

    warm = warm_process()
    read, write = os.pipe()
    try:
        pid = warm.start_step(step, env, write)
    finally:
        os.close(write)
    try:
        with os.fdopen(read, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                print(line, end="")
        print("\n")
        return warm.wait()
    except BaseException:
        kill_pid_group(pid)
        with contextlib.suppress(Exception):
            warm.wait()
        raise


# -- the warm process's side ----------------------------------------------------------------


def _run_child(request: dict[str, Any], output: int) -> None:
    """In the forked step: kfp's executor_main on the component file, as `sh` would run it."""
    import traceback

    code = 1
    try:
        _name_process(request["args"])
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        path = Path(tempfile.mkdtemp()) / "ephemeral_component.py"
        path.write_text(request["source"], encoding="utf-8")
        sys.argv = ["executor_main", "--component_module_path", str(path), *request["args"]]
        from kfp.dsl import executor_main  # imported already: what `python -m` would run

        executor_main.executor_main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _name_process(args: list[str]) -> None:
    """Name the forked step after its function (`ps`, `top` and /proc/PID/comm show it):
    its command line is the warm process's, which says nothing of the step."""
    from mlcycle.pipeline.lifeline import _prctl

    prctl = _prctl()
    if prctl is not None and "--function_to_execute" in args:
        name = args[args.index("--function_to_execute") + 1]
        prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def _warm_up(pending: list[str]) -> None:
    """Import the next module a later step needs (a failure is the step's to report)."""
    with contextlib.suppress(Exception):
        importlib.import_module(pending.pop(0))


def _reap(pid: int, pending: list[str]) -> int:
    """Wait for the step, importing what later steps need while it runs."""
    while pending:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        _warm_up(pending)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def serve(channel: socket.socket) -> None:
    """Fork a step for every request until the run closes its end."""
    from mlcycle.pipeline.lifeline import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run handles Ctrl-C, and kills steps
    pending = list(WARM_MODULES)
    _warm_up(pending)  # kfp's executor: every step needs it first
    while True:
        channel.setblocking(not pending)
        try:
            message, fds, _, _ = socket.recv_fds(channel, MAX_MESSAGE, 1)
        except BlockingIOError:
            _warm_up(pending)
            continue
        if not message:
            return
        request, output = json.loads(message), fds[0]
        pid = os.fork()
        if pid == 0:
            channel.close()
            os.setpgid(0, 0)
            die_with_parent()
            _run_child(request, output)
        with contextlib.suppress(PermissionError, ProcessLookupError):
            os.setpgid(pid, pid)  # also here: the run may kill the group before the child runs
        os.close(output)
        channel.setblocking(True)
        channel.send(json.dumps({"pid": pid}).encode())
        channel.send(json.dumps({"exit_code": _reap(pid, pending)}).encode())


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
