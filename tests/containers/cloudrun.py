"""Start an image the way deploy/cloudrun/deploy.sh deploys it to Cloud Run.

The service's settings are read from the script's own dry run (CPU, memory, port, plain and
secret environment), so a change to the script changes what the tier starts. Cloud Run sets
PORT; here each container gets a free loopback port on the host's network, as the GCS
emulator and the other containers are reached on 127.0.0.1.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess
import time
from dataclasses import dataclass, field

import httpx

from support import free_port

from .conftest import REPO, podman

DEPLOY = REPO / "deploy" / "cloudrun" / "deploy.sh"


@dataclass
class Deployed:
    """What `gcloud run deploy` is given for one service."""

    cpu: str
    memory: str
    port: str
    env: dict[str, str]
    secrets: list[str]  # environment variables filled from Secret Manager


def deployed(service: str) -> Deployed:
    extra = ["--root", "gs://b/p"] if service == "api" else ["--api-url", "https://api.example"]
    out = subprocess.run(
        ["bash", str(DEPLOY), service, "--project", "p", "--region", "r", "--image", "img",
         *extra, "--dry-run"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    (line,) = [line for line in out.stdout.splitlines() if line.startswith("gcloud run deploy")]
    cmd = shlex.split(line)

    def flag(name: str, default: str = "") -> str:
        return cmd[cmd.index(name) + 1] if name in cmd else default

    pairs = [p for p in flag("--set-env-vars").split(",") if p]
    env = dict(p.split("=", 1) for p in pairs)
    names = [p.split("=", 1)[0] for p in flag("--set-secrets").split(",") if p]
    return Deployed(flag("--cpu"), flag("--memory"), flag("--port", "8080"), env, names)


def podman_memory(cloud_run: str) -> str:
    """Cloud Run's 512Mi / 1Gi as podman's 512m / 1g."""
    return cloud_run.removesuffix("i").lower()


def memory_bytes(cloud_run: str) -> int:
    number, unit = int(cloud_run[:-2]), cloud_run[-2:]
    return number << {"Mi": 20, "Gi": 30}[unit]


@dataclass
class Service:
    name: str
    port: int
    started: float
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        out = podman("logs", self.name, check=False)
        return out.stdout + out.stderr

    def wait_ready(self, path: str, seconds: float) -> float:
        """Seconds from `podman run` until `path` answered 200; fails after `seconds`."""
        deadline = self.started + seconds
        while time.perf_counter() < deadline:
            try:
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: {path} not 200 within {seconds} s\n{self.logs()}")

    def stop(self) -> None:
        podman("rm", "--force", "--time", "2", self.name, check=False)


def start(
    image: str, service: str, name: str, env: dict[str, str], secrets: bool = True
) -> Service:
    """Run `image` as Cloud Run would run `service` (deploy.sh's settings), with `env` on top
    (the values of its secrets among them; `secrets=False` starts it without any)."""
    spec = deployed(service)
    port = free_port()
    values = {**spec.env, **env, "PORT": str(port)}
    missing = [s for s in spec.secrets if s not in values]
    assert not (secrets and missing), f"no value given for the secrets {missing}"
    for name_ in spec.secrets if not secrets else ():
        values.pop(name_, None)
    args = ["run", "--detach", "--name", name, "--network", "host"]
    args += ["--cpus", spec.cpu, "--memory", podman_memory(spec.memory)]
    for key, value in values.items():
        args += ["--env", f"{key}={value}"]
    started = time.perf_counter()
    podman(*args, image)
    return Service(name, port, started, values)


def token() -> str:
    """A secret's value, made the way deploy/gcp/bootstrap.sh makes one."""
    return secrets.token_hex(32)
