"""Run the training pipeline on this machine with kfp.local, with caching on.

Each step runs as a subprocess in the current environment (SubprocessRunner), or, given
`Containers`, in the project's pipeline image through a Docker API (DockerRunner), as on
Vertex AI. kfp.local's own output goes to a log file beside the run; callers get step events
for progress display and a `RunResult` to summarise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcycle import storage
from mlcycle.config import DatasetConfig
from mlcycle.data.report import DataReport
from mlcycle.pipeline import contract, kfp_local
from mlcycle.pipeline.definition import PIPELINE_NAME
from mlcycle.pipeline.launch import pipeline_arguments, seed_if_first_run

STEPS = contract.NAMES
# Reports a step writes before it rejects data; the CLI prints the failing one.
REPORTS = {step.name: step.report for step in contract.STEPS if step.report}

StepCallback = kfp_local.StepCallback
# Forwarded into step containers when set: how a step reaches a GCS emulator.
FORWARDED_ENV = ("STORAGE_EMULATOR_HOST",)


@dataclass(frozen=True)
class Containers:
    """Run every step in `image` through the Docker API at DOCKER_HOST (Docker or podman).

    `user` is uid:gid (None: the image's own). Steps share this machine's network, so they
    reach what it reaches, a local bucket emulator included; a local root is mounted at the
    same path, as kfp.local mounts the pipeline root.
    """

    image: str
    user: str | None = None


@dataclass
class RunResult:
    ok: bool
    run_dir: str | None
    log_path: str
    seconds: float
    steps: dict[str, str] = field(default_factory=dict)
    registration: dict[str, Any] | None = None
    failed_step: str | None = None
    rejection: DataReport | None = None
    seeded: str | None = None


@contextlib.contextmanager
def _captured(log_path: Path) -> Iterator[None]:
    """Route kfp.local's prints and logs (and its task processes' output) to the log."""
    with log_path.open("w", encoding="utf-8") as log:
        root = logging.getLogger()
        handler, level = logging.StreamHandler(log), root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(log), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            root.removeHandler(handler)
            root.setLevel(level)


def pipeline_root_for(root: str, override: str | None = None) -> Path:
    """kfp.local needs a local folder; beside the data when the root is local."""
    if override:
        return Path(override).expanduser().resolve()
    if storage.is_local(root):
        return Path(storage.normalize(root)) / "pipeline"
    return Path(".mlcycle-pipeline").resolve()


def _runner(containers: Containers | None, root: str) -> Any:
    import kfp.local

    if containers is None:
        from mlcycle.pipeline import lifeline

        lifeline.install()  # steps die with this process, and stop when it is interrupted
        return kfp.local.SubprocessRunner(use_venv=False)
    import docker.types

    from mlcycle.pipeline import kfp_docker

    kfp_docker.install()
    mounts = []
    if storage.is_local(root):
        mounts.append(docker.types.Mount(root, root, type="bind"))
    return kfp.local.DockerRunner(
        # kfp passes each step's command as the container's arguments; the image's
        # entrypoint is `mlcycle` (Vertex AI replaces it the same way).
        entrypoint=["/usr/bin/env"],
        user=containers.user,
        network_mode="host",
        mounts=mounts,
        environment={name: os.environ[name] for name in FORWARDED_ENV if name in os.environ},
    )


def run_pipeline(
    root: str,
    config: DatasetConfig,
    pipeline_root: str | None = None,
    on_step: StepCallback | None = None,
    containers: Containers | None = None,
    keep_runs: int = 10,
) -> RunResult:
    """Run the whole pipeline locally and say how it went.

    Folders a killed registration left are removed first; afterwards only the newest
    `keep_runs` runs' artifacts stay (and those of registered versions).
    """
    import kfp.local

    from mlcycle.model.registry import Registry
    from mlcycle.pipeline.definition import build_pipeline
    from mlcycle.pipeline.retention import prune_runs

    root = storage.normalize(root)
    local_root = pipeline_root_for(root, pipeline_root)
    local_root.mkdir(parents=True, exist_ok=True)
    Registry(root).remove_incomplete()
    seeded = seed_if_first_run(root, config)
    arguments = pipeline_arguments(root, config)

    log_path = local_root / f"{PIPELINE_NAME}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    started = time.perf_counter()
    kfp.local.init(
        runner=_runner(containers, root),
        pipeline_root=str(local_root),
        enable_caching=True,
        raise_on_error=False,  # a failed step is recorded, and its report read, below
    )
    with _captured(log_path), kfp_local.recording(on_step) as run:
        build_pipeline(image=containers.image if containers else None)(**arguments)
    seconds = time.perf_counter() - started
    prune_runs(local_root, keep_runs, Registry(root))
    # Judged by what the run wrote: a step's status can say SUCCESS for a container that
    # failed (kfp.local's DockerRunner loses exit codes of containers removed on exit).
    registration = run.output_path("register", "registration")
    result = RunResult(
        ok=registration is not None and registration.is_file(),
        run_dir=str(run.run_dir) if run.run_dir else None,
        log_path=str(log_path),
        seconds=seconds,
        steps=dict(run.steps),
        seeded=seeded,
    )
    if result.ok:
        result.registration = json.loads(registration.read_text())
        return result
    result.failed_step = run.failed_step
    report_name = REPORTS.get(result.failed_step or "")
    step_dir = run.step_dir(result.failed_step) if result.failed_step else None
    if step_dir and report_name:
        report_path = step_dir / report_name
        if report_path.exists():
            result.rejection = DataReport.from_dict(json.loads(report_path.read_text()))
    return result
