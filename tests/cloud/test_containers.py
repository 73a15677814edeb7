"""The Dockerfile and docker-compose.yml, checked without a Docker engine.

hadolint lints the Dockerfile; the rest reads it stage by stage and checks what each image
will hold and run. The entry points themselves are the `mlcycle` commands tested elsewhere.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.main import get_command

from mlcycle.cli import app

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
BIN = Path(sys.executable).parent
# target -> the extras it installs
TARGETS = {"pipeline": ("cloud", "export"), "api": ("api",), "ui": ("ui",)}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> dict[str, Stage]:
    """Stages by name, each with its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", text)
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arg = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = arg.partition(" AS ")
            current = stages.setdefault(name.strip(), Stage(name.strip(), base.strip()))
        elif current is not None:
            current.instructions.append((keyword, arg.strip()))
    return stages


STAGES = parse_dockerfile(DOCKERFILE.read_text())


def lineage(stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    chain = [stage]
    while chain[-1].base in STAGES:
        chain.append(STAGES[chain[-1].base])
    return chain


def cli_commands() -> set[str]:
    return set(get_command(app).commands)


# -- hadolint ------------------------------------------------------------------------------


def test_hadolint_passes_at_warning_level() -> None:
    out = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "warning", "-f", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = [f for f in json.loads(out.stdout) if f["level"] in ("error", "warning")]
    assert findings == [], out.stdout
    assert out.returncode == 0, out.stderr


# -- what each image holds and runs --------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_installs_its_own_extra_from_the_lock(target: str) -> None:
    (source,) = [arg for arg in STAGES[target].all("COPY") if "/opt/venv" in arg]
    builder = STAGES[re.search(r"--from=(\S+)", source).group(1)]
    installs = " ".join(builder.all("RUN"))
    assert f'"/stub[{",".join(TARGETS[target])}]"' in installs
    assert installs.count("pip install") == installs.count("--constraint constraints.txt")
    others = {e for extras in TARGETS.values() for e in extras} - set(TARGETS[target])
    assert not any(re.search(rf"[\[,]{extra}[\],]", installs) for extra in others)


@pytest.mark.parametrize("target", TARGETS)
def test_final_images_set_their_user_and_hold_no_source_or_build_tools(target: str) -> None:
    chain = lineage(STAGES[target])
    users = [u for stage in chain for u in stage.all("USER")]
    assert users, f"{target} sets no USER"
    user = users[0]  # the nearest USER wins
    default = re.fullmatch(r"\$\{(\w+)\}", user)
    if default:  # USER ${ARG}: check the ARG's default
        (arg,) = [a for a in STAGES[target].all("ARG") if a.startswith(default.group(1) + "=")]
        user = arg.split("=", 1)[1]
    uid = user.split(":")[0]
    assert uid.isdigit()
    if target == "pipeline":
        # Root by default, for Vertex AI's /gcs/ mount (docs/deploy.md); the non-root user
        # the container tier runs every step as exists in the image.
        assert uid == "0" and "--uid 10001" in " ".join(STAGES["runtime"].all("RUN"))
    else:
        assert uid != "0"
    copies = [c for stage in chain for c in stage.all("COPY")]
    assert not any(re.search(r"\b(src|tests)\b", c) for c in copies if "--from" not in c)
    runs = " ".join(r for stage in chain for r in stage.all("RUN"))
    assert "apt-get" not in runs and "pip install" not in runs


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_starts_the_mlcycle_command(target: str) -> None:
    stage = STAGES[target]
    assert stage.all("ENTRYPOINT") == ['["mlcycle"]']
    (cmd,) = stage.all("CMD")
    command = json.loads(cmd)[0]
    expected = {"pipeline": "run", "api": "serve", "ui": "ui"}[target]
    assert command == expected and command in cli_commands()


def test_api_and_ui_listen_on_all_interfaces_on_8080() -> None:
    api, ui = json.loads(STAGES["api"].all("CMD")[0]), json.loads(STAGES["ui"].all("CMD")[0])
    assert api[api.index("--host") + 1] == "0.0.0.0"  # the port comes from PORT/AIP_HTTP_PORT
    assert ui[ui.index("--host") + 1] == "0.0.0.0" and "--port" not in ui  # PORT decides
    assert "PORT=8080" in STAGES["ui"].all("ENV")
    assert STAGES["api"].all("EXPOSE") == ["8080"] == STAGES["ui"].all("EXPOSE")


def test_gcsfs_experimental_hns_support_is_off_in_every_image() -> None:
    # On, each gcsfs call made an extra layout request, and stalled ~60 s on an emulator.
    env = " ".join(STAGES["runtime"].all("ENV"))
    assert "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false" in env
    assert all("runtime" in [s.name for s in lineage(STAGES[t])] for t in TARGETS)


def test_vertex_steps_find_kfp_under_python3() -> None:
    # Vertex AI runs each step as `sh -ec '... python3 -m kfp.dsl.executor_main ...'`.
    env = " ".join(STAGES["runtime"].all("ENV"))
    assert "PATH=/opt/venv/bin:$PATH" in env


def requirement_closure(extra: str) -> set[str]:
    """Every distribution `pip install mlcycle[extra]` brings in, from installed metadata."""
    seen: set[str] = set()
    todo = [("mlcycle", {extra})]
    while todo:
        name, extras = todo.pop()
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            wanted = req.marker is None or any(
                req.marker.evaluate({"extra": e}) for e in (extras or {""})
            )
            key = canonicalize_name(req.name)
            if wanted and key not in seen:
                seen.add(key)
                todo.append((req.name, set(req.extras)))
    return seen


def lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


@pytest.mark.parametrize("target", TARGETS)
def test_every_package_an_image_installs_is_pinned(target: str) -> None:
    missing = set().union(*map(requirement_closure, TARGETS[target])) - set(lock())
    assert not missing, f"not in constraints.txt: {sorted(missing)}"


def test_the_cloud_sdk_stays_out_of_the_api_and_ui_images() -> None:
    assert {"google-cloud-aiplatform", "kfp"} <= requirement_closure("cloud")
    assert {"fastapi", "onnxruntime", "kfp"} <= requirement_closure("api")
    assert {"flask", "gunicorn"} <= requirement_closure("ui")
    assert "google-cloud-aiplatform" not in requirement_closure("api")
    assert "google-cloud-aiplatform" not in requirement_closure("ui")
    # Training converts every model to ONNX; serving only runs the graph.
    assert {"skl2onnx", "onnx", "onnxruntime"} <= requirement_closure("export")
    assert "skl2onnx" not in requirement_closure("api")


def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_local() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(path: str) -> bool:  # Docker's rule: the last matching pattern wins
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/").removeprefix("**/")
            parts = path.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or any(
                fnmatch.fnmatch(part, pattern) for part in parts
            ):
                keep = negate
        return keep

    copied = [
        c.split()[0] for s in STAGES.values() for c in s.all("COPY") if not c.startswith("--")
    ]
    for path in [*copied, "src/mlcycle/cli/__init__.py", "configs/breast_cancer.yaml"]:
        assert sent(path), path
    for path in (".venv/bin/python", ".mlcycle/models/champion.json", ".env", "tests/x.py"):
        assert not sent(path), path
    assert not sent("src/mlcycle/cli/__pycache__/models.cpython-311.pyc")


# -- docker-compose.yml --------------------------------------------------------------------

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_file_passes_the_compose_schema() -> None:
    out = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_runs_the_pipeline_once_then_api_then_ui_on_one_volume() -> None:
    services = COMPOSE["services"]
    for name in ("pipeline", "api", "ui"):
        assert services[name]["build"]["target"] in STAGES
    assert services["api"]["depends_on"]["pipeline"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["ui"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    volume = "mlcycle-root"
    assert f"{volume}:/data" in services["pipeline"]["volumes"]
    assert any(v.startswith(f"{volume}:/data") for v in services["api"]["volumes"])
    assert services["pipeline"]["environment"]["MLCYCLE_ROOT"] == "/data"
    assert services["api"]["environment"]["MLCYCLE_ROOT"] == "/data"
    assert services["ui"]["environment"]["MLCYCLE_API_URL"] == "http://api:8080"
    assert services["pipeline"]["command"][0] in cli_commands()
    assert services["watch"]["command"][0] in cli_commands()
