"""Vertex AI stand-in: every pipeline step in the `pipeline` image, as its non-root user,
through kfp.local's DockerRunner on podman's Docker API, with the data and the registry in a
gs:// bucket on a GCS emulator that the containers reach through gcsfs.

Each run is judged by what it wrote (the registry, the validation report), not by the step
statuses kfp reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mlcycle import storage
from mlcycle.config import DatasetConfig
from mlcycle.model.registry import Registry
from mlcycle.pipeline.local import STEPS, Containers, run_pipeline

NON_ROOT = "10001:10001"


@pytest.fixture(scope="module")
def bucket_root(gcs_emulator: str) -> str:
    return f"gs://{gcs_emulator}/vertex-stand-in"


def mlcycle(*args: str, pipeline_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLCYCLE_PIPELINE_ROOT": str(pipeline_root), "COLUMNS": "160"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("mlcycle")), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def first_run(
    images: dict[str, str], bucket_root: str, tmp_path_factory: pytest.TempPathFactory, figures
) -> tuple[subprocess.CompletedProcess, Path]:
    """`mlcycle run --image` on an empty bucket: seeds the default data and trains."""
    pipeline_root = tmp_path_factory.mktemp("vertex") / "pipeline"
    pipeline_root.mkdir()
    pipeline_root.chmod(0o777)
    started = time.perf_counter()
    out = mlcycle(
        "run", "--root", bucket_root, "--image", images["pipeline"], "--user", NON_ROOT,
        pipeline_root=pipeline_root,
    )  # fmt: skip
    figures.record("pipeline_cold_seconds_in_containers", time.perf_counter() - started)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out, pipeline_root


def test_a_champion_is_registered_with_its_onnx_graph(first_run, bucket_root: str) -> None:
    registry = Registry(bucket_root)
    champion = registry.champion_version()
    assert champion, first_run[0].stdout[-2000:]
    meta = registry.get(champion)
    assert meta.onnx.status == "exported", meta.onnx
    onnx = storage.join(registry.version_uri(champion), meta.onnx.file)
    assert storage.exists(onnx) and storage.list_files(registry.version_uri(champion))
    assert f"champion: {champion}" in " ".join(first_run[0].stdout.split())


def test_every_step_ran_in_the_image_as_its_non_root_user(first_run) -> None:
    _, pipeline_root = first_run
    (run_dir,) = [p for p in pipeline_root.iterdir() if p.is_dir() and p.name.startswith("ml")]
    for step in STEPS:
        output = run_dir / step / "executor_output.json"
        assert output.is_file(), f"{step} wrote no executor output in {run_dir}"
        assert output.stat().st_uid == 10001, f"{step} did not run as uid 10001"


def test_a_rerun_with_no_new_data_is_served_from_the_cache(
    first_run, bucket_root: str, images: dict[str, str], config: DatasetConfig, figures
) -> None:
    _, pipeline_root = first_run
    champion = Registry(bucket_root).champion_version()
    started = time.perf_counter()
    result = run_pipeline(
        bucket_root, config, str(pipeline_root), containers=Containers(images["pipeline"], NON_ROOT)
    )
    figures.record("pipeline_cached_seconds_in_containers", time.perf_counter() - started)
    assert result.ok, Path(result.log_path).read_text()[-3000:]
    cached = {step for step, state in result.steps.items() if state == "cached"}
    # validate and evaluate compare with the champion, which the first run promoted: they
    # run again, once; nothing that reads the data or trains does.
    assert cached == {"ingest", "clean", "split", "train"}, result.steps
    assert Registry(bucket_root).champion_version() == champion


def test_a_corrupt_upload_fails_the_run_with_its_report_and_keeps_the_champion(
    first_run, bucket_root: str, images: dict[str, str], bc_frame: pd.DataFrame
) -> None:
    _, pipeline_root = first_run
    registry = Registry(bucket_root)
    before = (registry.champion_pointer(), [m.version for m in registry.versions()])
    bad = bc_frame.sample(50, random_state=3).astype({"mean_area": object})
    bad.loc[bad.index[:5], "mean_area"] = "large"
    upload = storage.join(bucket_root, "data/incoming/corrupt.csv")
    storage.write_text(upload, bad.to_csv(index=False))
    try:
        out = mlcycle(
            "run", "--root", bucket_root, "--image", images["pipeline"], "--user", NON_ROOT,
            pipeline_root=pipeline_root,
        )  # fmt: skip
    finally:
        storage.remove(upload)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    report = " ".join(out.stderr.split())
    assert "data rejected by validate" in report and "mean_area" in report, report
    after = (registry.champion_pointer(), [m.version for m in registry.versions()])
    assert after == before
