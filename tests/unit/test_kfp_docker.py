"""The one place mlcycle reaches into kfp.local: DockerRunner's container start."""

from __future__ import annotations

import pytest
from kfp.local import docker_task_handler

from mlcycle.pipeline import kfp_docker


def test_the_adapter_replaces_kfp_s_container_start(monkeypatch: pytest.MonkeyPatch) -> None:
    original = docker_task_handler.run_docker_container
    monkeypatch.setattr(docker_task_handler, "run_docker_container", original)
    kfp_docker.install()
    assert docker_task_handler.run_docker_container is kfp_docker.run_container
    kfp_docker.install()  # twice is harmless
    assert docker_task_handler.run_docker_container is kfp_docker.run_container


def test_a_changed_kfp_function_is_refused_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(client, image, command, volumes, platform, **container_run_args):
        return 0

    monkeypatch.setattr(docker_task_handler, "run_docker_container", changed)
    with pytest.raises(RuntimeError, match="update the adapter"):
        kfp_docker.install()
    assert docker_task_handler.run_docker_container is changed
