"""Serving benchmark: mlcycle's API against MLflow's `models serve` and the HTTP floor.

    .venv/bin/python bench/serve.py        (or: make bench)
    BENCH_MODELS=mixed,boosting .venv/bin/python bench/serve.py     (some of the champions)
    BENCH_MODELS=linear BENCH_SERVERS=mlcycle,mlcycle_log_off BENCH_ROUNDS=12 BENCH_SECONDS=4 \
        .venv/bin/python bench/serve.py      (the prediction log's cost: two servers, more
                                              and shorter rounds; serve-<servers>.json)

Writes bench/results/serve.json. For four champions, each trained by the real pipeline
(`mlcycle run`) — linear, a 200-tree random forest and histogram gradient boosting on the
default data, and the config's usual candidates on a generated three-class data set with text
features and missing values ("mixed") — it runs these servers side by side on the
same model, loading them in turns, round after round (other work on a shared machine then
falls on all of them alike; each server's best round is reported, every round listed):

  mlcycle   `mlcycle serve` (uvicorn, one worker, onnxruntime), its prediction log on
  mlcycle_log_off  the same with MLCYCLE_PREDICTION_LOG=false: what the log costs
            (`prediction_log_c32`: log on over log off, round by round)
  mlflow    `mlflow models serve --env-manager local` of the same fitted scikit-learn pipeline,
            installed by this script into bench/.envs/mlflow (pinned below)
  floor     the same server stack answering the predict route with a constant (no parsing, no
            model): the most any predict route on this stack could do
  floor_fastapi_route  an ordinary FastAPI route doing the same nothing: shows what routing
            predict calls past FastAPI's per-request machinery buys

and measures requests/s, p50/p99 and the server's CPU time per request at concurrency 1 and
32 (single-row bodies), a 10,000-row
request in each body format a server takes (mlcycle: JSON, CSV, Arrow; MLflow: JSON
dataframe_split, CSV) against the in-process predict time, cold start (process start to the
first 200 on a prediction) and idle RSS (the whole process tree).

The load generator (`hey`, installed from Debian if missing) runs on the same cores as the
server: on this 2-core machine it takes a large share of the CPU, so absolute figures are
lower than a separate client machine would see; compare the servers by their ratios.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "serve.json"
ENVS = HERE / ".envs"
MLFLOW_VERSION = "3.17.2"
# The MLflow environment must unpickle the same scikit-learn pipeline: same versions.
SHARED_PINS = ("scikit-learn", "pandas", "numpy", "scipy", "joblib", "threadpoolctl")
DURATION_S = int(os.environ.get("BENCH_SECONDS", "6"))  # per load run
WARMUP_REQUESTS = 300
BATCH_ROWS = 10_000
BATCH_REPEATS = 5
COLD_STARTS = 3
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
# The budget for the prediction log: at most 10% of single-row throughput at c32.
LOG_ON_OVER_OFF_C32 = 0.90
TARGETS = {
    "throughput_ratio_c32": {"linear": 4.0, "forest": 20.0, "boosting": 20.0, "mixed": 20.0},
    "p99_c32_ms": 25.0,
    "batch_over_in_process": 3.0,
    # The Arrow batch against onnxruntime in process, for the champions added with the
    # exports of gradient boosting and text features.
    "batch_over_onnx_in_process": {"boosting": 2.0, "mixed": 2.0},
    "cold_start_s": 1.0,
    "idle_rss_mb": 200.0,
}

LINEAR = {
    "name": "logistic_regression",
    "estimator": "logistic_regression",
    "params": {"max_iter": 2000, "class_weight": "balanced"},
    "grid": {"C": [0.1, 1.0, 10.0]},
}
FOREST = {
    "name": "random_forest",
    "estimator": "random_forest",
    "params": {"n_estimators": 200, "class_weight": "balanced"},
    "grid": {},
}
BOOSTING = {
    "name": "hist_gradient_boosting",
    "estimator": "hist_gradient_boosting",
    "params": {"max_iter": 200, "learning_rate": 0.1},
    "grid": {},
}
# A data set with text features and missing values of both kinds (generated below), served
# by the champion the config's usual candidates give.
MIXED_CONFIG = {
    "name": "mixed",
    "label": "grade",
    "drop_columns": [],
    "seed_data": None,
    "positive_class": None,
    "column_types": {"site": "categorical", "device": "categorical", "smoker": "categorical"},
    "gate": {"primary_metric": "roc_auc", "thresholds": {}, "min_improvement": 0.0},
    "validation": {"non_negative": False},
}
MIXED_ROWS = 5000


def mixed_frame(rows: int = MIXED_ROWS) -> pd.DataFrame:
    """Three classes from six numeric and three text features, 5-10% of each missing."""
    import numpy as np

    rng = np.random.default_rng(7)
    grade = rng.choice(["I", "II", "III"], rows, p=[0.5, 0.3, 0.2])
    level = pd.Series(grade).map({"I": 0.0, "II": 1.0, "III": 2.0}).to_numpy()
    frame = pd.DataFrame(
        {f"m{i}": rng.normal(level * (i % 3) / 2, 1.0 + i / 5) for i in range(6)}
        | {
            "site": np.where(level + rng.normal(0, 0.8, rows) > 1.2, "north", "south"),
            "device": rng.choice(["a", "b", "c", "d"], rows),
            "smoker": np.where(rng.random(rows) < 0.2 + 0.2 * level, "yes", "no"),
            "grade": grade,
        }
    )
    for i, column in enumerate(c for c in frame.columns if c != "grade"):
        frame.loc[rng.random(rows) < 0.05 + 0.01 * i, column] = np.nan
    return frame


FLOOR_APP = '''
"""The HTTP floor: mlcycle's server stack answering the predict route with a constant."""
from fastapi import FastAPI, Request, Response
from mlcycle.api.app import FrontDoor
from mlcycle.api.metrics import ApiMetrics

BODY = b'{"predictions":[{"label":"x","probabilities":{"x":1.0}}],"model_version":"floor"}'


async def constant(scope, receive, send):
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


front_door = FastAPI()
front_door.add_middleware(FrontDoor, metrics=ApiMetrics(), predict=constant,
                          paths={"/v1/predict"})

fastapi_route = FastAPI()


@fastapi_route.post("/v1/predict")
async def predict(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")
'''

# MLflow stores scikit-learn models with skops, which loads only types it is told to trust;
# this is our own freshly trained model, so trust exactly the types it contains.
MLFLOW_SAVE = """
import sys, joblib, mlflow.sklearn, skops.io
model = joblib.load(sys.argv[1])
mlflow.sklearn.save_model(
    model, sys.argv[2], pyfunc_predict_fn="predict_proba",
    skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
)
"""


# -- helpers --------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            out[name.lower().replace("_", "-")] = version
    return out


def ensure_hey() -> str:
    path = shutil.which("hey")
    if path:
        return path
    log("installing hey (Debian package)")
    subprocess.run(["apt-get", "install", "-y", "-qq", "hey"], check=True)
    return shutil.which("hey") or "hey"


def ensure_mlflow_env() -> Path:
    env = ENVS / "mlflow"
    python = env / "bin" / "python"
    stamp = env / f".installed-{MLFLOW_VERSION}"
    if stamp.exists():
        return env
    log(f"creating {env} with mlflow=={MLFLOW_VERSION} (one time, a few minutes)")
    shutil.rmtree(env, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    versions = pins()
    shared = [f"{name}=={versions[name]}" for name in SHARED_PINS if name in versions]
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"mlflow=={MLFLOW_VERSION}", *shared],
        check=True,
    )
    stamp.touch()
    return env


def scratch_env(home: Path) -> dict[str, str]:
    """MLflow leaves nothing behind and phones nowhere."""
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MLFLOW_TRACKING_URI=f"file://{home}/mlruns",
        MLFLOW_ALLOW_FILE_STORE="true",
        PYTHONUNBUFFERED="1",
    )
    env.pop("MLCYCLE_ADMIN_TOKEN", None)
    return env


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total = 0
    for current in _tree(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(status.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children.get(current, [])
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process and its descendants have used: what a request
    costs the server, much less disturbed by other work on the machine than requests/s."""
    total = 0
    for current in _tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def hey(binary: str, url: str, body: Path, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            binary,
            "-z",
            f"{DURATION_S}s",
            "-c",
            str(concurrency),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-D",
            str(body),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {
        p: round(float(m.group(1)) * 1000, 2)
        for p in ("50", "99")
        if (m := re.search(rf"{p}% in ([\d.]+) secs", out))
    }
    statuses = {
        m.group(1): int(m.group(2)) for m in re.finditer(r"\[(\d{3})\]\s+(\d+) responses", out)
    }
    errors = re.search(r"Error distribution:(.*)", out, re.S)
    return {
        "concurrency": concurrency,
        "seconds": DURATION_S,
        "requests_per_s": round(rps, 1),
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "statuses": statuses,
        "errors": errors.group(1).strip()[:500] if errors else "",
    }


@dataclass
class Spec:
    """How to start one kind of server on a given port, and what to send it."""

    name: str
    argv: Callable[[int], list[str]]
    path: str
    env: dict[str, str]
    body: bytes
    body_file: Path
    # 10,000-row bodies by format: {name: (content type, body)}
    batches: dict[str, tuple[str, bytes]] = field(default_factory=dict)


class Server:
    """One server process on a fresh port: started, timed to its first good answer, stopped."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{spec.path}"
        self.argv = spec.argv(self.port)
        self.process: subprocess.Popen | None = None
        self.cold_start_s: float | None = None

    def post(
        self, client: httpx.Client, body: bytes, content_type: str = "application/json"
    ) -> httpx.Response:
        return client.post(self.url, content=body, headers={"content-type": content_type})

    def start(self, timeout: float = 120) -> Server:
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv,
            env=self.spec.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() - started < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.spec.name} exited: {self.process.stderr.read()[-2000:]}"
                    )
                try:
                    if self.post(client, self.spec.body).status_code == 200:
                        self.cold_start_s = round(time.perf_counter() - started, 3)
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        raise RuntimeError(f"{self.spec.name} did not answer within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server and its workers
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run least disturbed by other work on the machine: the highest throughput."""
    return max(runs, key=lambda r: r["requests_per_s"])


def measure_all(
    specs: list[Spec], hey_bin: str, in_process_predict: Callable[[], float]
) -> dict[str, dict[str, Any]]:
    """Every server measured in turns, so that load from other work on this shared machine
    falls on all of them alike rather than on whichever ran at a bad moment. Each batch request
    is timed right after one in-process prediction of the same rows, for the same reason."""
    out: dict[str, dict[str, Any]] = {s.name: {} for s in specs}
    for spec in specs:  # cold starts: one server at a time, nothing else of ours running
        starts = []
        for _ in range(COLD_STARTS):
            server = Server(spec).start()
            starts.append(server.cold_start_s)
            server.stop()
        out[spec.name] |= {"cold_start_s": statistics.median(starts), "cold_starts_s": starts}
        log(f"  {spec.name}: cold starts {starts}")
    servers = [Server(spec).start() for spec in specs]
    try:
        with httpx.Client(timeout=300) as client:
            for server in servers:
                for _ in range(WARMUP_REQUESTS):
                    server.post(client, server.spec.body)
            time.sleep(3)
            for server in servers:
                out[server.spec.name] |= {
                    "command": " ".join(server.spec.argv(0)).replace(" 0", " PORT"),
                    "idle_rss_mb": tree_rss_mb(server.process.pid),
                }
            runs: dict[str, dict[str, list]] = {s.spec.name: {"c1": [], "c32": []} for s in servers}
            for _ in range(ROUNDS):
                for concurrency in (1, 32):
                    for server in servers:
                        cpu = tree_cpu_s(server.process.pid)
                        result = hey(hey_bin, server.url, server.spec.body_file, concurrency)
                        answered = sum(result["statuses"].values()) or 1
                        result["server_cpu_ms_per_request"] = round(
                            (tree_cpu_s(server.process.pid) - cpu) * 1000 / answered, 4
                        )
                        runs[server.spec.name][f"c{concurrency}"].append(result)
            for server in servers:
                name = server.spec.name
                for c in ("c1", "c32"):
                    out[name][c] = best(runs[name][c])
                    out[name][f"{c}_all_rounds_requests_per_s"] = [
                        r["requests_per_s"] for r in runs[name][c]
                    ]
                    out[name][f"{c}_all_rounds_server_cpu_ms_per_request"] = [
                        r["server_cpu_ms_per_request"] for r in runs[name][c]
                    ]
                    out[name][f"{c}_failed"] = sum(
                        sum(n for code, n in r["statuses"].items() if code != "200")
                        + (1 if r["errors"] else 0)
                        for r in runs[name][c]
                    )
                log(
                    f"  {name}: c1 {out[name]['c1_all_rounds_requests_per_s']} req/s, "
                    f"c32 {out[name]['c32_all_rounds_requests_per_s']} req/s"
                )
            for server in servers:
                for form, (content_type, batch) in server.spec.batches.items():
                    server.post(client, batch, content_type)  # first use loads any reader
                    times, local, statuses = [], [], set()
                    for _ in range(BATCH_REPEATS):
                        local.append(in_process_predict())
                        started = time.perf_counter()
                        statuses.add(server.post(client, batch, content_type).status_code)
                        times.append(time.perf_counter() - started)
                    out[server.spec.name].setdefault("batch_10k", {})[form] = {
                        "rows": BATCH_ROWS,
                        "content_type": content_type,
                        "body_mb": round(len(batch) / 1e6, 2),
                        "statuses": sorted(statuses),
                        "median_ms": round(statistics.median(times) * 1000, 1),
                        "min_ms": round(min(times) * 1000, 1),
                        "sklearn_in_process_median_ms": round(statistics.median(local) * 1000, 2),
                    }
    finally:
        for server in servers:
            server.stop()
    return out


# -- the run --------------------------------------------------------------------------------


def train(
    work: Path, name: str, candidates: list[dict[str, Any]] | None, mixed: bool = False
) -> Path:
    """A champion trained by the real pipeline (`mlcycle run`) on the default data, or on the
    mixed data set; `candidates` replace the config's. Returns the root."""
    import yaml

    from mlcycle import storage

    config = yaml.safe_load((REPO / "configs" / "breast_cancer.yaml").read_text())
    root = work / f"root-{name}"
    if mixed:
        config |= MIXED_CONFIG
        incoming = storage.join(str(root), "data", "incoming", "mixed.csv")
        storage.write_text(incoming, mixed_frame().to_csv(index=False))
    if candidates:
        config["candidates"] = candidates
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    log(f"training the {name} champion with `mlcycle run`")
    subprocess.run(
        [
            str(Path(sys.executable).with_name("mlcycle")),
            "run",
            "--root",
            str(root),
            "--config",
            str(path),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=REPO,
    )
    # The gate may keep no champion (the forest can miss a threshold): this benchmark compares
    # serving, so the version just trained is served either way.
    from mlcycle.model.registry import Registry

    registry = Registry(str(root))
    latest = registry.versions()[-1]
    if registry.champion_version() != latest.version:
        registry.promote(latest.version, ["promoted by bench/serve.py to benchmark serving"])
    return root


def in_process(root: Path, rows: pd.DataFrame) -> tuple[dict[str, Any], Callable[[], float]]:
    """The same predictions without a server: the reference for the 10,000-row request. Also
    returns a function that times one scikit-learn prediction of the rows, for interleaving."""
    from mlcycle.model.candidates import prepare_features
    from mlcycle.model.export import onnx_feeds
    from mlcycle.model.predict import session
    from mlcycle.model.registry import Registry

    registry = Registry(str(root))
    meta = registry.champion()
    types = meta.feature_schema.feature_types()
    model = registry.load_model(meta.version, meta)

    def timed(fn: Any, repeats: int) -> float:
        fn()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    X = prepare_features(rows, types)
    one = X.iloc[:1]
    out = {
        "sklearn_10k_ms": round(timed(lambda: model.predict_proba(X), BATCH_REPEATS) * 1000, 2),
        "sklearn_1row_us": round(timed(lambda: model.predict_proba(one), 50) * 1e6, 1),
    }
    record = meta.onnx
    if record is not None and record.exported:
        sess = session(registry.read_artifact(meta.version, record.file))
        feeds = onnx_feeds(X, record)
        feeds1 = {k: v[:1] for k, v in feeds.items()}
        out["onnx_10k_ms"] = round(timed(lambda: sess.run(None, feeds), BATCH_REPEATS) * 1000, 2)
        # From the features table, as a caller in process starts: the graph's inputs made
        # (numbers as one matrix, missing text filled) and then run.
        out["onnx_10k_from_table_ms"] = round(
            timed(lambda: sess.run(None, onnx_feeds(X, record)), BATCH_REPEATS) * 1000, 2
        )
        out["onnx_1row_us"] = round(timed(lambda: sess.run(None, feeds1), 200) * 1e6, 1)

    def predict_once() -> float:
        started = time.perf_counter()
        model.predict_proba(X)
        return time.perf_counter() - started

    return {
        "version": meta.version,
        "candidate": meta.model.candidate,
        "onnx": {
            k: getattr(record, k, None) for k in ("status", "input_dtype", "max_abs_diff", "reason")
        },
        **out,
    }, predict_once


def arrow_stream(rows: pd.DataFrame) -> bytes:
    import pyarrow as pa

    table = pa.Table.from_pandas(rows, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def bench_model(
    name: str, root: Path, work: Path, mlflow_env: Path, hey_bin: str
) -> dict[str, Any]:
    from mlcycle.model.registry import Registry

    meta = Registry(str(root)).champion()
    features = meta.feature_schema.feature_names()
    data = pd.read_csv(next((root / "data" / "incoming").glob("*.csv")))
    rows = data[features].sample(BATCH_ROWS, replace=True, random_state=0).reset_index(drop=True)
    # The single-row body is a complete row (the batches keep their missing values): MLflow
    # is not asked to make sense of a JSON null in a numeric column.
    one = rows.dropna().iloc[:1]
    instance = json.loads(one.to_json(orient="records"))
    ours = json.dumps({"instances": instance}).encode()
    ours_batches = {
        "json": (
            "application/json",
            json.dumps({"instances": json.loads(rows.to_json(orient="records"))}).encode(),
        ),
        "csv": ("text/csv", rows.to_csv(index=False).encode()),
        "arrow": ("application/vnd.apache.arrow.stream", arrow_stream(rows)),
    }
    split = {"columns": features, "data": json.loads(one.to_json(orient="values"))}
    theirs = json.dumps({"dataframe_split": split}).encode()
    theirs_batches = {
        "json": (
            "application/json",
            json.dumps(
                {
                    "dataframe_split": {
                        "columns": features,
                        "data": json.loads(rows.to_json(orient="values")),
                    }
                }
            ).encode(),
        ),
        "csv": ("text/csv", rows.to_csv(index=False).encode()),
    }
    bodies = {}
    for key, body in (("ours", ours), ("theirs", theirs)):
        bodies[key] = work / f"{name}-{key}.json"
        bodies[key].write_bytes(body)

    reference, predict_once = in_process(root, rows)
    wanted = os.environ.get("BENCH_SERVERS")  # e.g. BENCH_SERVERS=mlcycle,mlcycle_log_off
    model_dir = work / f"mlflow-{name}"
    if not model_dir.exists() and (not wanted or "mlflow" in wanted.split(",")):
        subprocess.run(
            [
                str(mlflow_env / "bin" / "python"),
                "-c",
                MLFLOW_SAVE,
                str(root / "models" / "versions" / meta.version / "model.joblib"),
                str(model_dir),
            ],
            check=True,
            env=scratch_env(work / "home"),
        )

    env = scratch_env(work / "home")
    # `mlflow models serve` execs `uvicorn` by name: its environment's bin must come first.
    mlflow_env_vars = {**env, "PATH": f"{mlflow_env / 'bin'}{os.pathsep}{env['PATH']}"}
    mlcycle_bin = str(Path(sys.executable).with_name("mlcycle"))
    uvicorn_bin = str(Path(sys.executable).with_name("uvicorn"))
    mlflow_bin = str(mlflow_env / "bin" / "mlflow")

    def floor(app: str) -> Callable[[int], list[str]]:
        return lambda port: [
            uvicorn_bin,
            f"bench_floor:{app}",
            "--app-dir",
            str(work),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    def serve(port: int) -> list[str]:
        host = ["--host", "127.0.0.1", "--port", str(port)]
        return [mlcycle_bin, "serve", "--root", str(root), *host]

    log_on = {**env, "MLCYCLE_PREDICTION_LOG": "true"}
    log_off = {**env, "MLCYCLE_PREDICTION_LOG": "false"}
    specs = [
        Spec("mlcycle", serve, "/v1/predict", log_on, ours, bodies["ours"], ours_batches),
        Spec("mlcycle_log_off", serve, "/v1/predict", log_off, ours, bodies["ours"], ours_batches),
        Spec(
            "mlflow",
            lambda port: [
                mlflow_bin,
                "models",
                "serve",
                "-m",
                str(model_dir),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            "/invocations",
            mlflow_env_vars,
            theirs,
            bodies["theirs"],
            theirs_batches,
        ),
        Spec("floor", floor("front_door"), "/v1/predict", env, ours, bodies["ours"]),
        Spec(
            "floor_fastapi_route", floor("fastapi_route"), "/v1/predict", env, ours, bodies["ours"]
        ),
    ]
    if wanted:
        specs = [s for s in specs if s.name in wanted.split(",")]
    servers = measure_all(specs, hey_bin, predict_once)
    if "mlcycle" in servers:  # what the log-on server wrote (its shutdown wrote the rest)
        from mlcycle import predictions

        servers["mlcycle"]["prediction_log_rows_written"] = len(predictions.read(str(root)))
    return {"in_process": reference, "servers": servers}


def judge(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The ratios and targets the servers measured allow (BENCH_SERVERS may leave some out)."""
    servers = result["servers"]
    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    if {"mlcycle", "mlflow", "floor", "floor_fastapi_route"} <= set(servers):
        judged = judge_against_mlflow(name, result)
        ratios, targets = judged["ratios"], judged["targets"]
    if {"mlcycle", "mlcycle_log_off"} <= set(servers):
        on, off = servers["mlcycle"], servers["mlcycle_log_off"]
        # Round by round: the two ran back to back, so each pair saw the same machine.
        paired = [
            round(a / b, 3)
            for a, b in zip(
                on["c32_all_rounds_requests_per_s"],
                off["c32_all_rounds_requests_per_s"],
                strict=True,
            )
        ]
        ratios["prediction_log_c32_by_round"] = paired
        ratios["prediction_log_c32"] = round(statistics.median(paired), 3)
        ratios["prediction_log_c32_best_vs_best"] = round(
            on["c32"]["requests_per_s"] / off["c32"]["requests_per_s"], 3
        )
        ratios["prediction_log_c1"] = round(
            on["c1"]["requests_per_s"] / off["c1"]["requests_per_s"], 3
        )
        # CPU per request: what the log adds to each request's cost, whatever else the
        # machine runs; on a server of its own, throughput is about its inverse.
        cpu_on = statistics.median(on["c32_all_rounds_server_cpu_ms_per_request"])
        cpu_off = statistics.median(off["c32_all_rounds_server_cpu_ms_per_request"])
        ratios["prediction_log_c32_server_cpu_ms_per_request"] = {"on": cpu_on, "off": cpu_off}
        ratios["prediction_log_c32_cpu_off_over_on"] = round(cpu_off / cpu_on, 3)
        targets["prediction_log_cost_c32"] = {
            "target": f">= {LOG_ON_OVER_OFF_C32} (log on over log off, single-row requests/s "
            "at concurrency 32, median of the rounds' ratios)",
            "met": ratios["prediction_log_c32"] >= LOG_ON_OVER_OFF_C32,
        }
        targets["prediction_log_no_failed_requests"] = {
            "target": "every load-run response 200 with the log on",
            "met": on["c32_failed"] == 0 and on["c1_failed"] == 0,
        }
    return {"ratios": ratios, "targets": targets}


def judge_against_mlflow(name: str, result: dict[str, Any]) -> dict[str, Any]:
    ours, theirs = result["servers"]["mlcycle"], result["servers"]["mlflow"]
    floor = result["servers"]["floor"]
    ref = result["in_process"]
    ratios = {
        "throughput_c1_vs_mlflow": round(
            ours["c1"]["requests_per_s"] / theirs["c1"]["requests_per_s"], 2
        ),
        "throughput_c32_vs_mlflow": round(
            ours["c32"]["requests_per_s"] / theirs["c32"]["requests_per_s"], 2
        ),
        "throughput_c32_vs_floor": round(
            ours["c32"]["requests_per_s"] / floor["c32"]["requests_per_s"], 2
        ),
        "floor_front_door_vs_fastapi_route_c32": round(
            floor["c32"]["requests_per_s"]
            / result["servers"]["floor_fastapi_route"]["c32"]["requests_per_s"],
            2,
        ),
    }
    for server, key in ((ours, "batch"), (theirs, "mlflow_batch")):
        for form, batch in server["batch_10k"].items():
            ratios[f"{key}_{form}_vs_sklearn_in_process"] = round(
                batch["median_ms"] / batch["sklearn_in_process_median_ms"], 2
            )
            if server is ours and "onnx_10k_ms" in ref:
                ratios[f"{key}_{form}_vs_onnx_in_process"] = round(
                    batch["median_ms"] / ref["onnx_10k_ms"], 2
                )
                ratios[f"{key}_{form}_vs_onnx_from_table_in_process"] = round(
                    batch["median_ms"] / ref["onnx_10k_from_table_ms"], 2
                )
    targets = {
        "throughput_c32_vs_mlflow": {
            "target": f">= {TARGETS['throughput_ratio_c32'][name]}x",
            "met": ratios["throughput_c32_vs_mlflow"] >= TARGETS["throughput_ratio_c32"][name],
        },
        "p99_c32_ms": {
            "target": f"<= {TARGETS['p99_c32_ms']}",
            "met": ours["c32"]["p99_ms"] <= TARGETS["p99_c32_ms"],
        },
        "batch_10k_vs_in_process": {
            "target": f"<= {TARGETS['batch_over_in_process']}x scikit-learn in-process, "
            "with the batch body (Arrow); JSON and CSV are listed in ratios",
            "met": ratios["batch_arrow_vs_sklearn_in_process"] <= TARGETS["batch_over_in_process"],
        },
        "exported_to_onnx": {
            "target": "the champion is served by onnxruntime",
            "met": ref["onnx"]["status"] == "exported",
        },
        "cold_start_s": {
            "target": f"<= {TARGETS['cold_start_s']}",
            "met": ours["cold_start_s"] <= TARGETS["cold_start_s"],
        },
        "idle_rss_mb": {
            "target": f"<= {TARGETS['idle_rss_mb']}",
            "met": ours["idle_rss_mb"] <= TARGETS["idle_rss_mb"],
        },
        "no_failed_requests": {
            "target": "every load-run and batch response 200",
            "met": all(
                set(ours[c]["statuses"]) == {"200"} and not ours[c]["errors"] for c in ("c1", "c32")
            )
            and all(b["statuses"] == [200] for b in ours["batch_10k"].values()),
        },
    }
    if limit := TARGETS["batch_over_onnx_in_process"].get(name):
        targets["batch_10k_arrow_vs_onnx_in_process"] = {
            "target": f"<= {limit}x onnxruntime in process, from the features table "
            "(the graph's inputs made, missing text filled, then run)",
            "met": ratios.get("batch_arrow_vs_onnx_from_table_in_process", float("inf")) <= limit,
        }
    return {"ratios": ratios, "targets": targets}


def main() -> None:
    hey_bin = ensure_hey()
    wanted = os.environ.get("BENCH_SERVERS")
    mlflow_env = ensure_mlflow_env() if not wanted or "mlflow" in wanted.split(",") else ENVS
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mlcycle-bench-") as tmp:
        work = Path(tmp)
        (work / "bench_floor.py").write_text(textwrap.dedent(FLOOR_APP))
        (work / "home").mkdir()
        results: dict[str, Any] = {}
        models = [
            ("linear", [LINEAR], False),
            ("forest", [FOREST], False),
            ("boosting", [BOOSTING], False),
            ("mixed", None, True),
        ]
        only = os.environ.get("BENCH_MODELS")  # e.g. BENCH_MODELS=mixed,boosting
        for name, candidates, mixed in models:
            if only and name not in only.split(","):
                continue
            root = train(work, name, candidates, mixed)
            log(f"benchmarking the {name} champion")
            result = bench_model(name, root, work, mlflow_env, hey_bin)
            results[name] = {**result, **judge(name, result)}
    report = {
        "benchmark": "bench/serve.py",
        "command": ".venv/bin/python bench/serve.py  (make bench)",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load],
            "note": "hey, the load generator, runs on the same cores as the server and other "
            "work on this shared machine competes too; compare servers by their ratios.",
        },
        "load": {
            "tool": "hey",
            "seconds_per_run": DURATION_S,
            "rounds": ROUNDS,
            "body": "one instance per request",
            "method": "servers run side by side and are loaded in turns, round after round; "
            "each server's best round is reported and every round's requests/s is listed",
        },
        "mlflow_version": MLFLOW_VERSION,
        "models": results,
    }
    # A run of some servers only does not replace the full comparison's figures.
    out = RESULTS.with_name(f"serve-{'-'.join(wanted.split(','))}.json") if wanted else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {out}")
    for name, result in results.items():
        log(f"{name}: {json.dumps(result['ratios'])}")
        log(
            f"{name}: "
            + ", ".join(
                f"{k} {'met' if v['met'] else 'NOT met'}" for k, v in result["targets"].items()
            )
        )


if __name__ == "__main__":
    main()
