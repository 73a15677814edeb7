"""The steps' one declaration (pipeline/contract.py) against what is built from it: the
compiled pipeline spec Vertex AI runs, the KFP components and the step functions."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcycle.config import DatasetConfig
from mlcycle.pipeline import contract
from mlcycle.pipeline.compile import compile_pipeline
from mlcycle.pipeline.contract import RUN_ID, STEPS, Uri, source_step
from mlcycle.pipeline.launch import pipeline_arguments

# Only KFP's cache sees these: a change re-runs the step, the step function never reads them.
CACHE_KEYS = {"code_version", "incoming_fingerprint"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory, config: DatasetConfig) -> dict[str, Any]:
    path = compile_pipeline(tmp_path_factory.mktemp("spec") / "pipeline.yaml", config)
    return yaml.safe_load(path.read_text())


def _kind(step: contract.Step, source: str) -> str | None:
    """The artifact kind an input receives; None for a string parameter."""
    upstream = source_step(source)
    if upstream is None:
        return None
    producer = contract.BY_NAME[upstream[0]]
    return None if upstream[1] == producer.result else producer.outputs[upstream[1]]


def _artifact_type(kind: str) -> dict[str, str]:
    return {"schemaTitle": f"system.{kind}", "schemaVersion": "0.0.1"}


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_component_has_the_declared_inputs_and_outputs(spec, step) -> None:
    component = spec["components"][f"comp-{step.name}"]
    kinds = {name: _kind(step, source) for name, source in step.inputs.items()}
    inputs = component["inputDefinitions"]
    assert inputs.get("parameters", {}) == {
        name: {"parameterType": "STRING"} for name, kind in kinds.items() if kind is None
    }
    assert inputs.get("artifacts", {}) == {
        name: {"artifactType": _artifact_type(kind)} for name, kind in kinds.items() if kind
    }
    outputs = component["outputDefinitions"]
    assert outputs["artifacts"] == {
        name: {"artifactType": _artifact_type(kind)} for name, kind in step.outputs.items()
    }
    expected = {"Output": {"parameterType": "STRING"}} if step.result else {}
    assert outputs.get("parameters", {}) == expected


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_task_is_wired_as_declared(spec, step) -> None:
    task = spec["root"]["dag"]["tasks"][step.name]
    parameters, artifacts, upstream = {}, {}, set()
    for name, source in step.inputs.items():
        producer = source_step(source)
        if source == RUN_ID:
            parameters[name] = {"runtimeValue": {"constant": "{{$.pipeline_job_name}}"}}
        elif producer is None:
            parameters[name] = {"componentInputParameter": source}
        elif _kind(step, source) is None:
            upstream.add(producer[0])
            parameters[name] = {
                "taskOutputParameter": {"outputParameterKey": "Output", "producerTask": producer[0]}
            }
        else:
            upstream.add(producer[0])
            artifacts[name] = {
                "taskOutputArtifact": {
                    "outputArtifactKey": producer[1],
                    "producerTask": producer[0],
                }
            }
    assert task["componentRef"] == {"name": f"comp-{step.name}"}
    assert task["inputs"].get("parameters", {}) == parameters
    assert task["inputs"].get("artifacts", {}) == artifacts
    assert set(task.get("dependentTasks", [])) == upstream
    assert task["taskInfo"] == {"name": step.label}
    assert task["cachingOptions"].get("enableCache", False) is step.cache


def test_the_pipeline_s_interface_is_what_its_callers_use(spec) -> None:
    # Pinned: `mlcycle submit` and Vertex AI pass these parameters by name, the local runner
    # and the CLI know these steps, and the registry's lineage points at ingest's snapshot.
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert tuple(sorted(parameters)) == tuple(sorted(contract.PARAMETERS))
    assert {name for name, p in parameters.items() if not p.get("isOptional")} == {
        "root",
        "config",
        "incoming_fingerprint",
    }
    assert contract.NAMES == (
        "ingest",
        "validate",
        "clean",
        "split",
        "train",
        "evaluate",
        "register",
    )
    assert set(spec["components"]) == {f"comp-{name}" for name in contract.NAMES}
    assert spec["root"]["dag"]["outputs"]["artifacts"]["Output"]["artifactSelectors"] == [
        {"outputArtifactKey": "registration", "producerSubtask": "register"}
    ]
    assert {s.name: s.report for s in STEPS if s.report} == {
        "ingest": "report",
        "validate": "report",
    }
    assert "snapshot" in contract.BY_NAME["ingest"].outputs


def test_the_run_s_parameters_are_the_pipeline_s(tmp_path: Path, config: DatasetConfig) -> None:
    assert tuple(pipeline_arguments(str(tmp_path), config)) == contract.PARAMETERS


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_step_function_takes_exactly_the_declared_keywords(step) -> None:
    parameters = inspect.signature(step.function).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    assert {p.name for p in parameters} == set(step.args)


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_step_argument_comes_from_the_step_s_own_inputs_and_outputs(step) -> None:
    used: set[str] = set()

    def names(arg: contract.Arg) -> None:
        if isinstance(arg, str):
            used.add(arg)
        elif isinstance(arg, Uri):
            used.add(arg.name)
        elif isinstance(arg, dict):
            for inner in arg.values():
                names(inner)
        else:
            assert callable(arg)

    for arg in step.args.values():
        names(arg)
    assert used <= set(step.inputs) | set(step.outputs)
    # Every output is written by the step or by its component; every input is read or a key.
    assert set(step.outputs) - used == set(step.shell_outputs)
    assert set(step.inputs) - used <= CACHE_KEYS


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_each_component_s_signature_is_the_declared_one(step) -> None:
    from mlcycle.pipeline import components

    fn = getattr(components, step.name).python_func
    assert list(inspect.signature(fn).parameters) == [*step.inputs, *step.outputs]


def test_sources_name_earlier_steps_only() -> None:
    seen: dict[str, set[str]] = {}
    for step in STEPS:
        for source in step.inputs.values():
            producer = source_step(source)
            if producer:
                assert producer[1] in seen[producer[0]], f"{step.name} reads {source}"
            else:
                assert source in contract.PARAMETERS or source == RUN_ID
        seen[step.name] = set(step.outputs) | ({step.result} if step.result else set())


def test_call_passes_paths_uris_and_computed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    class Artifact:
        def __init__(self, name: str) -> None:
            self.path, self.uri = f"/local/{name}", f"gs://bucket/{name}"

    got: dict[str, Any] = {}
    step = contract.BY_NAME["register"]
    monkeypatch.setitem(
        contract.BY_NAME, "register", contract.Step(**{**step.__dict__, "function": got.update})
    )
    values = {name: Artifact(name) for name in [*step.inputs, *step.outputs]}
    values.update(config="{}", data_hash="h", run_id="run-1", git_commit="c", code_version="v")
    values.update(feature_types="{}", root="/r", champion_version="")
    contract.call("register", values)
    assert got["model_path"] == "/local/model"
    assert got["artifacts"] == {
        "roc_curve.png": "/local/roc_curve",
        "confusion_matrix.png": "/local/confusion_matrix",
        "calibration_curve.png": "/local/calibration_curve",
    }
    lineage = got["lineage"]
    assert lineage["snapshot_uri"] == "gs://bucket/snapshot"
    assert (lineage["pipeline_run"], lineage["git_commit"], lineage["code_version"]) == (
        "run-1",
        "c",
        "v",
    )
    assert {"python", "scikit-learn", "kfp"} <= set(lineage["libraries"])
