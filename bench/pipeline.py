"""Benchmark: the local pipeline against its in-process floor, and training at scale.

    .venv/bin/python bench/pipeline.py [--scale 10000,100000,1000000]

Writes bench/results/pipeline.json. Side by side in one run:
- cold: the kfp.local pipeline on the default data in a fresh root (every step a process,
  forked from the warm process: pipeline/warm.py);
- cold, steps started cold: the same with MLCYCLE_WARM_STEPS=0 (kfp's own `sh -c` per step);
- after promotion: the rerun that follows (the champion changed, so validate/evaluate rerun);
- cached: the rerun after that (every cacheable step from the cache);
- floor: the same step functions called one after another in one fresh process;
- new data to a served champion: with `mlcycle serve` and `mlcycle watch` running (default
  intervals) on a champion of the default data, the seconds from `mlcycle data add` of a
  better file (a second site's cases) to the API answering with the version it trained
  (the default config, its gate's recall floor left out).
Then the in-process steps on synthetic data (30 numeric features, two classes) at each scale:
wall time per stage and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIG = REPO / "configs" / "breast_cancer.yaml"


def child_floor(root: str) -> None:
    started = time.perf_counter()
    from mlcycle.config import load_config
    from mlcycle.pipeline.inprocess import run_in_process

    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as work:
        run_in_process(root, load_config(CONFIG), Path(work), stages)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 3), "stages": stages}))


def child_scale(rows: int, root: str) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    from mlcycle import storage
    from mlcycle.config import load_config

    x, y = make_classification(
        n_samples=rows, n_features=30, n_informative=12, weights=[0.65], random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(30)])
    frame["label"] = np.where(y == 1, "pos", "neg")
    storage.write_bytes(
        storage.join(root, "data/incoming/synthetic.parquet"), frame.to_parquet(index=False)
    )
    del frame, x, y
    config = load_config(CONFIG).model_copy(
        update={
            "name": "synthetic",
            "label": "label",
            "positive_class": "pos",
            "drop_columns": [],
            "seed_data": None,
            "cv_folds": 3,
            "validation": load_config(CONFIG).validation.model_copy(
                update={"non_negative": False}  # make_classification's features go below 0
            ),
            # A million rows of Parquet is 250 MB: above the default limits, on purpose.
            "limits": load_config(CONFIG).limits.model_copy(
                update={"max_bytes": 2_000_000_000, "max_rows": 2_000_000}
            ),
        }
    )
    candidates = [
        c.model_copy(update={"grid": {k: v[:1] for k, v in c.grid.items()}})
        for c in config.candidates
    ]
    config = config.model_copy(update={"candidates": candidates})
    from mlcycle.pipeline.inprocess import run_in_process

    stages: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        run_in_process(root, config, Path(work), stages)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": round(time.perf_counter() - started, 3),
                "stages": stages,
                "peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pipeline(root: str, pipeline_root: str, **env: str) -> dict:
    code = (
        "import json,time,sys\n"
        "t=time.perf_counter()\n"
        "from mlcycle.config import load_config\n"
        "from mlcycle.pipeline.local import run_pipeline\n"
        f"r=run_pipeline({root!r}, load_config({str(CONFIG)!r}), {pipeline_root!r})\n"
        "assert r.ok, r.log_path\n"
        "print(json.dumps({'seconds': round(time.perf_counter()-t, 3), 'steps': r.steps}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, **env},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mlcycle(*args: str, stdout: object = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("mlcycle")), *args],
        cwd=REPO,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _served_version(url: str) -> str | None:
    import httpx

    try:
        answer = httpx.get(f"{url}/v1/model", timeout=1)
    except httpx.HTTPError:
        return None
    return answer.json()["version"] if answer.status_code == 200 else None


def new_data_to_served(tmp: str) -> dict:
    """Seconds from `mlcycle data add` of a better file to the API serving what it trained."""
    import signal
    import socket

    import yaml

    from mlcycle.data.seed import breast_cancer_frame

    # The champion: the default data (a first run seeds it). The better file: the same cases
    # from a second site whose scanner reads 15% larger, which the champion has not learnt
    # (its ROC AUC on the next run's test split drops from 0.995 to 0.988; the challenger's
    # is 0.996 here). Validation lets it in, warning of the ranges it extends.
    frame = breast_cancer_frame()
    more = frame.assign(id=frame["id"] + 10_000_000)
    features = frame.columns.drop(["id", "diagnosis"])
    more[features] = frame[features] * 1.15
    (Path(tmp) / "second_site.csv").write_text(more.to_csv(index=False))
    # The default config without the gate's recall floor: the challenger's recall lands near
    # it (0.94 against 0.95), and this measures the loop, not the gate.
    config = yaml.safe_load(CONFIG.read_text())
    config["gate"]["thresholds"].pop("recall")
    config_path = Path(tmp) / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    root = f"{tmp}/root"
    if _mlcycle("run", "--root", root, "--config", str(config_path)).wait() != 0:
        raise RuntimeError("the first mlcycle run failed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    version = None
    watch_log = Path(tmp) / "watch.log"
    servers = [
        _mlcycle("serve", "--root", root, "--host", "127.0.0.1", "--port", str(port)),
        _mlcycle("watch", "--root", root, "--config", str(config_path), stdout=watch_log.open("w")),
    ]
    try:
        deadline = time.monotonic() + 60
        while (champion := _served_version(url)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not serve the first champion")
            time.sleep(0.1)
        time.sleep(3)  # the watcher has looked at the folder once: the next file is new
        started = time.perf_counter()
        if _mlcycle("data", "add", f"{tmp}/second_site.csv", "--root", root).wait() != 0:
            raise RuntimeError("mlcycle data add failed")
        added = time.perf_counter() - started
        served = None
        while time.perf_counter() - started < 120:
            if (version := _served_version(url)) not in (None, champion):
                served = round(time.perf_counter() - started, 2)
                break
            time.sleep(0.05)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(30)
    from mlcycle.model.registry import Registry

    return {
        "first_champion": champion,
        "served_version": version if served else None,
        "champion_in_the_registry": Registry(root).champion_version(),
        "seconds_from_data_add_to_served": served,
        "data_add_seconds": round(added, 2),
        "intervals": "mlcycle watch --interval 2 (settle 2), API poll 2 s: the defaults",
        "target_seconds_max": 20.0,
        **({} if served else {"watch_output": watch_log.read_text()[-3000:]}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="10000,100000,1000000")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        return child_floor(*rest) if kind == "floor" else child_scale(int(rest[0]), rest[1])

    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "wall seconds; each figure from a fresh process; shared machine",
    }
    with tempfile.TemporaryDirectory() as tmp:
        root, proot = f"{tmp}/root", f"{tmp}/pipeline"
        cold_steps = _pipeline(f"{tmp}/root-cold", f"{tmp}/pipeline-cold", MLCYCLE_WARM_STEPS="0")
        cold = _pipeline(root, proot)
        promoted = _pipeline(root, proot)
        cached = _pipeline(root, proot)
        floor = _child("--child", "floor", f"{tmp}/floor")
    results["pipeline"] = {
        "cold": cold,
        "cold_steps_started_cold": cold_steps,
        "after_promotion": promoted,
        "cached": cached,
        "floor_in_process": floor,
        "cold_over_floor": round(cold["seconds"] / floor["seconds"], 2),
        "cold_steps_started_cold_over_floor": round(cold_steps["seconds"] / floor["seconds"], 2),
        "targets": {"cold_over_floor_max": 2.0, "cached_seconds_max": 2.0},
    }
    print(json.dumps(results["pipeline"], indent=2), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results["new_data_to_served"] = new_data_to_served(tmp)
    print(json.dumps(results["new_data_to_served"], indent=2), flush=True)
    scale = []
    for rows in (int(r) for r in args.scale.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            scale.append(_child("--child", "scale", str(rows), f"{tmp}/root"))
        print(json.dumps(scale[-1]), flush=True)
    for entry in scale:
        entry["microseconds_per_row"] = round(entry["seconds"] / entry["rows"] * 1e6, 2)
    results["scale"] = scale
    results["scale_targets"] = {"peak_rss_mb_max_at_1m": 8192, "time_growth": "at most linear"}
    out = HERE / "results" / "pipeline.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
