"""deploy/gcp/vm-startup.sh, the working VM's startup script, run as far as it runs here.

The script runs in a Debian 12 container made from the tier's base image (the VM's OS:
deploy/gcp/vm.sh boots debian-12), as root, with podman's Docker-compatible socket mounted
as the Docker socket and the host's network (on the VM the script runs on the host). It
really installs docker.io and docker-compose from Debian's packages through apt, takes the
images the tier built (MLCYCLE_IMAGES=localhost, its documented switch) instead of pulling
them from Artifact Registry, and brings up docker-compose.yml with deploy/gcp/vm-compose.yml;
then the API and the UI must answer a prediction on the ports it was given, and the
`mlcycle` command it installs must list the champion the stack trained.

What differs from the VM: the bucket is a folder in the compose project's named volume
(MLCYCLE_ROOT=/data/vm, not the volume's root /data, so that the override visibly decides
the root), there is no metadata server (the settings come from the environment) and no
systemd: as in Debian's container images, policy-rc.d keeps apt from starting a Docker
engine inside the container, and podman (which schedules health checks with systemd timers)
has its health checks run by this test instead.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from support import free_port

from .conftest import REPO, podman
from .test_compose import wait_for
from .test_serving_images import CSRF, fill, predicted

BASE_IMAGE = os.environ.get("MLCYCLE_BASE_IMAGE", "localhost/mlcycle-base:bookworm")
ROOT = "/data/vm"
# What a Debian container image has and a debootstrapped root lacks: no service starts on
# package installation (Docker's engine here would take over the mounted socket).
NO_SERVICES = (
    "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d"
)


def run_health_checks(project: str, stop: threading.Event) -> None:
    """What podman's systemd timers would do: run each starting container's health check."""
    while not stop.wait(2):
        listed = podman(
            "ps", "--filter", f"label=com.docker.compose.project={project}",
            "--filter", "health=starting", "--format", "{{.Names}}", check=False,
        )  # fmt: skip
        for name in listed.stdout.split():
            podman("healthcheck", "run", name, check=False, timeout=30)


def remove_project(project: str) -> None:
    listed = podman(
        "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={project}"
    )
    if ids := listed.stdout.split():
        podman("rm", "--force", "--time", "0", *ids, check=False)
    podman("volume", "rm", "--force", f"{project}_mlcycle-root", check=False)
    podman("network", "rm", "--force", f"{project}_default", check=False)


@pytest.fixture(scope="module")
def vm(images: dict[str, str], figures) -> Iterator[dict[str, str]]:
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0:
        pytest.fail(f"base image {BASE_IMAGE} is missing: run `make test-containers`")
    for target, image in images.items():  # the script takes :local, the tier's current build
        local = podman(
            "image", "inspect", "--format", "{{.Id}}", f"localhost/mlcycle-{target}:local"
        )
        assert local.stdout == podman("image", "inspect", "--format", "{{.Id}}", image).stdout
    project = f"mlcycle-vm-{uuid.uuid4().hex[:6]}"
    api_port, ui_port = free_port(), free_port()
    socket = os.environ["DOCKER_HOST"].removeprefix("unix://")
    settings = {
        "MLCYCLE_SOURCE": "/src",
        "MLCYCLE_IMAGES": "localhost",
        "MLCYCLE_IMAGE_TAG": "local",
        "MLCYCLE_ROOT": ROOT,
        "COMPOSE_PROJECT_NAME": project,
        "MLCYCLE_API_PORT": str(api_port),
        "MLCYCLE_UI_PORT": str(ui_port),
    }
    startup = "bash /src/deploy/gcp/vm-startup.sh"
    # Then, as a user on the VM would: the `mlcycle` the script installs, and what apt put in.
    script = (
        f"{NO_SERVICES} && {startup} && echo '== models' && mlcycle models"
        " && dpkg-query -W docker.io docker-compose"
    )
    stop = threading.Event()
    checker = threading.Thread(target=run_health_checks, args=(project, stop), daemon=True)
    checker.start()
    started = time.perf_counter()
    try:
        out = subprocess.run(
            ["podman", "run", "--rm", "--name", f"{project}-script", "--network", "host",
             "-v", f"{socket}:/var/run/docker.sock", "-v", f"{REPO}:/src:ro",
             *(f"--env={k}={v}" for k, v in settings.items()),
             BASE_IMAGE, "bash", "-c", script],
            capture_output=True, text=True, timeout=420, check=False,
        )  # fmt: skip
        figures.record("vm_startup_script_seconds", time.perf_counter() - started)
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
        yield {
            "output": out.stdout,
            "project": project,
            "api": f"http://127.0.0.1:{api_port}",
            "ui": f"http://127.0.0.1:{ui_port}",
        }
    finally:
        stop.set()
        checker.join(timeout=30)
        podman("rm", "--force", "--time", "0", f"{project}-script", check=False)  # on a timeout
        remove_project(project)


def test_the_script_installs_docker_and_compose_from_debian_s_packages(vm: dict) -> None:
    # dpkg-query's last two lines: "PACKAGE<tab>VERSION".
    installed = dict(line.split("\t") for line in vm["output"].splitlines()[-2:])
    assert set(installed) == {"docker.io", "docker-compose"}
    assert "+deb12" in installed["docker.io"], installed  # Debian 12's build, not upstream's
    assert installed["docker-compose"].startswith("1.29"), installed
    assert "mlcycle is up on this VM" in vm["output"]


def test_the_stack_trains_into_the_root_the_vm_override_names(vm: dict) -> None:
    ready = wait_for(f"{vm['api']}/readyz", 60).json()
    api = podman(
        "ps", "--filter", f"label=com.docker.compose.project={vm['project']}",
        "--filter", "label=com.docker.compose.service=api", "--format", "{{.Names}}",
    ).stdout.split()  # fmt: skip
    assert len(api) == 1, api
    champion = podman("exec", api[0], "cat", f"{ROOT}/models/champion.json").stdout
    assert ready["model_version"] in champion
    # `mlcycle models` on the VM reads the same registry.
    models = vm["output"].split("== models", 1)[1]
    assert ready["model_version"] in models


def test_the_api_and_the_ui_answer_a_prediction(vm: dict) -> None:
    wait_for(f"{vm['ui']}/healthz", 60)
    schema = httpx.get(f"{vm['api']}/v1/schema").json()
    row = schema["examples"]["malignant"][0]
    response = httpx.post(f"{vm['api']}/v1/predict", json={"instances": [row]})
    assert response.status_code == 200, response.text
    expected = response.json()["predictions"][0]
    assert expected["label"] == "malignant", expected
    with httpx.Client(timeout=30) as http:
        page = http.get(f"{vm['ui']}/")
        token = CSRF.search(page.text).group(1)
        answer = http.post(f"{vm['ui']}/", data={"csrf_token": token, **fill(schema, row)})
    assert answer.status_code == 200, answer.text[-1500:]
    assert predicted(answer.text) == expected["label"]
