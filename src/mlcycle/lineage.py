"""Where a model came from: code, commit and library versions."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = (
    "mlcycle",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "kfp",
    "skl2onnx",
    "onnxruntime",
)


# The code pipeline steps run: components import it, so KFP's cache key does not cover it.
STEP_CODE = (
    "config.py",
    "storage.py",
    "lineage.py",
    "data",
    "model",
    "pipeline/steps.py",
    "pipeline/contract.py",  # which step argument gets which input
)


def code_version() -> str:
    """A hash of the source behind the pipeline steps.

    Passed to every step so that a change to that code is never answered from the cache,
    while a change to the CLI, API or UI leaves cached steps valid.
    """
    package = Path(__file__).parent
    paths = []
    for entry in STEP_CODE:
        target = package / entry
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def git_commit() -> str:
    """The commit being run: $MLCYCLE_GIT_COMMIT (set in images and CI), else git, else ''."""
    from mlcycle.settings import get_settings

    if commit := get_settings().git_commit:
        return commit
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
