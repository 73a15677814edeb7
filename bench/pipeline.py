"""Benchmark: the local pipeline against its in-process floor, and training at scale.

    .venv/bin/python bench/pipeline.py [--scale 10000,100000,1000000]

Writes bench/results/pipeline.json. Side by side in one run:
- cold: the kfp.local pipeline on the default data in a fresh root (every step a process);
- after promotion: the rerun that follows (the champion changed, so validate/evaluate rerun);
- cached: the rerun after that (every cacheable step from the cache);
- floor: the same step functions called one after another in one fresh process.
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


def _pipeline(root: str, pipeline_root: str) -> dict:
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
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


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
        cold = _pipeline(root, proot)
        promoted = _pipeline(root, proot)
        cached = _pipeline(root, proot)
        floor = _child("--child", "floor", f"{tmp}/floor")
    results["pipeline"] = {
        "cold": cold,
        "after_promotion": promoted,
        "cached": cached,
        "floor_in_process": floor,
        "cold_over_floor": round(cold["seconds"] / floor["seconds"], 2),
        "targets": {"cold_over_floor_max": 3.0, "cached_seconds_max": 2.0},
    }
    print(json.dumps(results["pipeline"], indent=2), flush=True)
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
