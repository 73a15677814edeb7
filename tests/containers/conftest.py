"""The container tier: the three images, started the way their cloud services start them.

`make test-containers` installs podman, makes the base image and builds the images
(scripts/containers/), then runs this folder. Plain `make test` deselects it (marker
`containers`, set here on everything collected below this folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "build" / "containers" / "images.json"
FIGURES = REPO / "bench" / "results" / "containers.json"
HOW = "run `make test-containers` (it installs podman and builds the images first)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """target -> the image tag built for the current sources."""
    if not os.environ.get("DOCKER_HOST"):
        pytest.fail(f"DOCKER_HOST is not set: {HOW}")
    if not IMAGES.exists():
        pytest.fail(f"{IMAGES} is missing: {HOW}")
    built = json.loads(IMAGES.read_text())
    for target, entry in built.items():
        out = podman("image", "exists", entry["image"], check=False)
        if out.returncode != 0:
            pytest.fail(f"image {entry['image']} ({target}) is not in podman: {HOW}")
    return {target: entry["image"] for target, entry in built.items()}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    out = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and out.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {out.stdout}{out.stderr}")
    return out


class Figures:
    """What the tier measured, merged into bench/results/containers.json at the end."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def record(self, name: str, value: Any) -> None:
        self.values[name] = round(value, 3) if isinstance(value, float) else value

    def write(self) -> None:
        figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
        if IMAGES.exists():
            figures["images"] = json.loads(IMAGES.read_text())
        figures.update(self.values)
        figures["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    found = Figures()
    yield found
    if found.values:
        found.write()


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    """A folder the images' non-root user (10001) can write, for kfp's pipeline root."""
    path = tmp_path / "shared"
    path.mkdir()
    path.chmod(0o777)
    return path


def rss_mib(container: str) -> float:
    """A running container's memory use, as podman's stats report it."""
    out = podman("stats", "--no-stream", "--format", "json", container)
    usage = json.loads(out.stdout)[0]["mem_usage"].split("/")[0].strip()
    number, unit = float(usage.rstrip("kKMGB")), usage.lstrip("0123456789.")
    return number * {"kB": 1 / 1024, "KB": 1 / 1024, "MB": 1, "GB": 1024}.get(unit, 1)


def which(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is not installed: {HOW}")
    return path
