"""Benchmark: `mlcycle monitor`'s cost as the prediction log grows, and what it stores.

    .venv/bin/python bench/drift.py [--scale 10000,100000]

Writes bench/results/drift.json. A champion is trained in-process on the default data; for
each scale, that many unshifted rows (training rows resampled with 5% noise, as the tests'
no-drift case) are logged in the API's layout (predictions.write_part, 10,000 rows a part),
then timed in a fresh process each: `measure` (read the log, PSI and shift for 30 features)
and `write` (the JSON and the HTML page with 30 plots). Also: the size of a version's
reference.json and of one report, and the largest PSI seen (the no-drift case's margin).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO / "tests")]  # the tests' log writer: the same rows they log


def child(root: str) -> None:
    started = time.perf_counter()
    from datetime import timedelta

    from mlcycle import monitor
    from mlcycle.config import load_config

    imported = time.perf_counter()
    config = load_config(REPO / "configs" / "breast_cancer.yaml").drift
    report = monitor.measure(root, config, timedelta(hours=1))
    measured = time.perf_counter()
    written = monitor.write(root, report)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": report.rows,
                "status": report.status,
                "max_psi": round(max(f.psi for f in report.features), 4),
                "import_seconds": round(imported - started, 2),
                "measure_seconds": round(measured - imported, 2),
                "write_seconds": round(done - measured, 2),
                "html_bytes": Path(written.html_uri).stat().st_size,
                "json_bytes": Path(written.json_uri).stat().st_size,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="10000,100000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    import pandas as pd

    from api.training import fast_config, train_and_register
    from drift_support import log_features, unshifted
    from mlcycle.model.reference import REFERENCE_FILE
    from mlcycle.model.registry import Registry

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        version = train_and_register(str(base / "trained"), base / "work", fast_config())["version"]
        train = pd.read_parquet(base / "work" / "split" / "train_set")
        reference_bytes = len(
            Registry(str(base / "trained")).read_artifact(version, REFERENCE_FILE)
        )
        for rows in [int(n) for n in args.scale.split(",")]:
            root = base / f"root-{rows}"
            root.mkdir()
            (root / "models").symlink_to(base / "trained" / "models")
            names = Registry(str(root)).get(version).feature_schema.feature_names()
            started = time.perf_counter()
            log_features(root, version, unshifted(train, names, rows))
            logged = round(time.perf_counter() - started, 2)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(root)],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append({**json.loads(out.stdout), "log_seconds": logged})
            print(results[-1])
    figures = {
        "what": "mlcycle monitor on unshifted rows of the default data (30 numeric features)",
        "command": "python bench/drift.py --scale " + args.scale,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 1) for x in os.getloadavg()],
        },
        "reference_json_bytes": reference_bytes,
        "scales": results,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "drift.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
