"""kfp.local's DockerRunner with exit codes that survive: one small adapter over kfp internals.

kfp 2.17 starts each step's container with auto_remove and reads its exit code once the
logs end; by then the container may be gone, and kfp reports SUCCESS for a step that
failed (then crashes reading outputs that were never written). `install` swaps kfp's
container start for one that removes the container only after reading its exit code. It
checks the function it replaces first and fails loudly if kfp changed it
(tests/unit/test_kfp_docker.py; the container tier runs a failing step through it).
"""

from __future__ import annotations

from typing import Any

# kfp.local.docker_task_handler.run_docker_container's parameters, as this adapter knows them.
EXPECTED = ("client", "image", "command", "volumes", "container_run_args")


def run_container(
    client: Any, image: str, command: list[str], volumes: dict[str, Any], **container_run_args: Any
) -> int:
    """Run one step's container to the end; its exit code."""
    import docker.errors
    from kfp.local import docker_task_handler

    image = docker_task_handler.add_latest_tag_if_not_present(image=image)
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        client.images.pull(image)
    container = client.containers.run(
        image=image,
        command=command,
        detach=True,
        stdout=True,
        stderr=True,
        volumes=volumes,
        **container_run_args,
    )
    try:
        for line in container.logs(stream=True, follow=True):
            print(line.decode(errors="replace"), end="")
        return int(container.wait()["StatusCode"])
    finally:
        container.remove(force=True)


def install() -> None:
    """Make kfp.local's DockerRunner start containers through `run_container`."""
    from kfp.local import docker_task_handler

    from mlcycle.pipeline import kfp_patch

    kfp_patch.replace(docker_task_handler, "run_docker_container", run_container, EXPECTED)
