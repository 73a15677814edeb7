"""`mlcycle submit`: the real Vertex AI PipelineJob, built offline against a GCS emulator.

The bucket is gcp-storage-emulator, in this process; the job is google-cloud-aiplatform's
own PipelineJob with anonymous credentials and an explicit project and region. Nothing here
calls `submit()`: it would reach Google (and retry for minutes).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

# gcsfs hangs against the emulator unless this is set before it is imported.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from mlcycle import storage
from mlcycle.cli import app
from mlcycle.data.incoming import fingerprint, incoming_fingerprint
from mlcycle.data.seed import breast_cancer_frame
from mlcycle.model.registry import Registry

REPO = Path(__file__).resolve().parents[2]
BUCKET = "mlcycle-test"
ROOT = f"gs://{BUCKET}/team"
IMAGE = "europe-west1-docker.pkg.dev/acme/mlcycle/mlcycle-pipeline:abc1234"
SA = "mlcycle-pipeline@acme.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """A GCS emulator with one bucket; STORAGE_EMULATOR_HOST points gcsfs at it."""
    import gcsfs
    from gcp_storage_emulator.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    before = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    gcsfs.GCSFileSystem.clear_instance_cache()  # none may point at another endpoint
    try:
        yield BUCKET
    finally:
        server.stop()
        gcsfs.GCSFileSystem.clear_instance_cache()
        if before is None:
            del os.environ["STORAGE_EMULATOR_HOST"]
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = before


@pytest.fixture(scope="module")
def big_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default config asking for bigger machines than the default."""
    raw = yaml.safe_load((REPO / "configs" / "breast_cancer.yaml").read_text())
    raw["resources"] = {"cpu": "8", "memory": "32G"}
    path = tmp_path_factory.mktemp("config") / "big.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def bucket_root(emulator: str) -> dict[str, str]:
    """Data and a champion in the bucket, written through mlcycle's own storage and registry."""
    storage.write_text(
        storage.join(ROOT, "data", "incoming", "part-1.csv"),
        breast_cancer_frame().to_csv(index=False),
    )
    registry = Registry(ROOT)
    schema = {  # the config's label: a champion of another label is refused before any step
        "label": "diagnosis",
        "classes": ["benign", "malignant"],
        "features": [{"name": "mean_radius", "type": "numeric"}],
    }
    meta = registry.register(
        {"model.joblib": b"a stand-in model"},
        {"lineage": {}, "metrics": {}, "gate": {"decision": "promoted"}, "schema": schema},
    )
    registry.promote(meta.version)
    return {"champion": meta.version}


def submit(config: Path, *args: str, root: str = ROOT) -> Result:
    """`mlcycle submit` for project acme in europe-west1, run in this process."""
    common = ["--project", "acme", "--region", "europe-west1", "--image", IMAGE]
    return CliRunner().invoke(
        app, ["submit", *common, "--root", root, "--config", str(config), *args]
    )


def dry_run(tmp_path: Path, config: Path, *extra: str, root: str = ROOT) -> dict:
    out = tmp_path / "request.json"
    result = submit(config, "--dry-run", "--output", str(out), *extra, root=root)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def request_json(
    tmp_path_factory: pytest.TempPathFactory, big_config: Path, bucket_root: dict
) -> dict:
    return dry_run(tmp_path_factory.mktemp("submit"), big_config, "--service-account", SA)


def test_request_targets_the_project_and_region(request_json: dict) -> None:
    assert request_json["parent"] == "projects/acme/locations/europe-west1"
    assert request_json["pipelineJobId"].startswith("mlcycle-training-")
    assert request_json["pipelineJob"]["displayName"] == "mlcycle-breast_cancer"
    assert request_json["pipelineJob"]["serviceAccount"] == SA


def test_artifacts_go_under_the_bucket_root(request_json: dict) -> None:
    runtime = request_json["pipelineJob"]["runtimeConfig"]
    assert runtime["gcsOutputDirectory"] == f"{ROOT}/pipeline"


def test_every_step_runs_in_the_image_sized_by_the_config(request_json: dict) -> None:
    executors = request_json["pipelineJob"]["pipelineSpec"]["deploymentSpec"]["executors"]
    assert len(executors) == 7
    for name, executor in executors.items():
        container = executor["container"]
        assert container["image"] == IMAGE, name
        assert container["resources"]["cpuLimit"] == 8.0, name
        assert container["resources"]["memoryLimit"] == 32.0, name


def test_parameters_come_from_the_bucket(
    request_json: dict, bucket_root: dict, big_config: Path
) -> None:
    from mlcycle.config import load_config

    params = request_json["pipelineJob"]["runtimeConfig"]["parameterValues"]
    assert params["root"] == ROOT
    assert params["champion_version"] == bucket_root["champion"]
    assert params["incoming_fingerprint"] == incoming_fingerprint(ROOT)
    assert params["incoming_fingerprint"] != fingerprint([])
    assert json.loads(params["config"]) == json.loads(load_config(big_config).to_json())
    assert len(params["code_version"]) == 16


def test_new_data_in_the_bucket_changes_the_fingerprint(
    tmp_path: Path, big_config: Path, request_json: dict
) -> None:
    before = request_json["pipelineJob"]["runtimeConfig"]["parameterValues"]
    extra = storage.join(ROOT, "data", "incoming", "part-2.csv")
    storage.write_text(extra, breast_cancer_frame().head(50).to_csv(index=False))
    try:
        after = dry_run(tmp_path, big_config)["pipelineJob"]["runtimeConfig"]["parameterValues"]
    finally:
        storage.remove(extra)
    assert after["incoming_fingerprint"] != before["incoming_fingerprint"]
    assert after["champion_version"] == before["champion_version"]


def test_the_spec_round_trips_through_kfp(request_json: dict, tmp_path: Path) -> None:
    from kfp import compiler, components

    spec = request_json["pipelineJob"]["pipelineSpec"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == "mlcycle-training"
    params = request_json["pipelineJob"]["runtimeConfig"]["parameterValues"]
    assert set(loaded.component_spec.inputs) == set(params)
    again = tmp_path / "again.yaml"
    compiler.Compiler().compile(loaded, str(again))
    assert yaml.safe_load(again.read_text()) == spec


def test_a_dry_run_writes_nothing_to_the_bucket(
    tmp_path: Path, big_config: Path, emulator: str
) -> None:
    empty = f"gs://{emulator}/fresh"
    request = dry_run(tmp_path, big_config, root=empty)
    assert request["pipelineJob"]["runtimeConfig"]["gcsOutputDirectory"] == f"{empty}/pipeline"
    assert storage.list_files(empty) == []


def test_a_local_root_is_refused(tmp_path: Path, big_config: Path) -> None:
    result = submit(big_config, "--dry-run", root=str(tmp_path))
    assert result.exit_code == 1
    assert "gs://" in result.output


def test_output_without_dry_run_is_refused_before_anything_is_sent(
    tmp_path: Path, big_config: Path
) -> None:
    result = submit(big_config, "--output", str(tmp_path / "r.json"))
    assert result.exit_code == 1
    assert "--dry-run" in result.output
    assert not (tmp_path / "r.json").exists()
