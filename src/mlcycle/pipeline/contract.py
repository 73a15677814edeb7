"""Every pipeline step declared once: what it reads, what it writes, which function does it.

Kedro-style `node(func, inputs, outputs)`: `STEPS` is the data-flow diagram as data. From it
come the @dsl.pipeline wiring (definition.py), the in-process runner, the local runner's step
list and the rejection reports; the KFP components' signatures (components.py, which KFP
needs as real source) and the step functions' keyword arguments are checked against it
(tests/unit/test_contract.py), and so is the compiled spec. No KFP import here.

A step's `inputs` are named as its KFP component names them (the compiled spec's names), each
mapped to where its value comes from: a pipeline parameter (`"config"`), an earlier step's
output (`"ingest.snapshot"`) or string result (`"validate.feature_types"`), or the run's id
(`RUN_ID`). Inputs that `args` does not use are cache keys only: KFP's cache sees them, the
step function does not. `args` maps each keyword of the step function to one of the step's
own inputs or outputs (an artifact as its local path), `Uri(name)` (an artifact's URI), a
dict of those, or a function called in the step's process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlcycle.lineage import library_versions
from mlcycle.pipeline import steps

# The pipeline's parameters (launch.pipeline_arguments gives their values).
PARAMETERS = (
    "root",
    "config",
    "incoming_fingerprint",
    "champion_version",
    "git_commit",
    "code_version",
)
RUN_ID = "$run_id"  # the pipeline run's name (KFP's PIPELINE_JOB_NAME placeholder)

# Artifact kinds, as KFP's dsl names its artifact classes.
ARTIFACT, DATASET, MODEL, HTML = "Artifact", "Dataset", "Model", "HTML"
METRICS, CLASSIFICATION = "Metrics", "ClassificationMetrics"


@dataclass(frozen=True)
class Uri:
    """An artifact's URI rather than its local path (gs://... on Vertex AI)."""

    name: str


Arg = str | Uri | Mapping[str, Any] | Callable[[], Any]


@dataclass(frozen=True)
class Step:
    """One step: its component's interface (`inputs`, `outputs`, `result`) and wiring, and
    the call of `function` (in `steps`) it makes."""

    name: str
    function: Callable[..., Any]
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]  # name -> artifact kind
    args: Mapping[str, Arg]
    result: str | None = None  # the name of the step's string result (KFP's "Output")
    cache: bool = True
    display_name: str = ""
    report: str | None = None  # the output a step writes before it rejects the data
    shell_outputs: tuple[str, ...] = ()  # written by the component, not the step

    @property
    def label(self) -> str:
        return self.display_name or self.name


STEPS: tuple[Step, ...] = (
    Step(
        "ingest",
        steps.ingest,
        inputs={
            "config": "config",
            "root": "root",
            "incoming_fingerprint": "incoming_fingerprint",
            "code_version": "code_version",
        },
        outputs={"snapshot": DATASET, "report": ARTIFACT},
        args={
            "config_json": "config",
            "root": "root",
            "snapshot_path": "snapshot",
            "report_path": "report",
        },
        result="data_hash",
        report="report",
    ),
    Step(
        "validate",
        steps.validate,
        inputs={
            "config": "config",
            "root": "root",
            "champion_version": "champion_version",
            "code_version": "code_version",
            "snapshot": "ingest.snapshot",
            "ingest_report": "ingest.report",
        },
        outputs={"report": ARTIFACT},
        args={
            "config_json": "config",
            "root": "root",
            "champion_version": "champion_version",
            "snapshot_path": "snapshot",
            "ingest_report_path": "ingest_report",
            "report_path": "report",
        },
        # A string, not an artifact: a re-run with the same outcome keeps what follows cached.
        result="feature_types",
        report="report",
    ),
    Step(
        "clean",
        steps.clean,
        inputs={
            "config": "config",
            "feature_types": "validate.feature_types",
            "code_version": "code_version",
            "snapshot": "ingest.snapshot",
        },
        outputs={"cleaned": DATASET, "changes": ARTIFACT},
        args={
            "config_json": "config",
            "types_json": "feature_types",
            "snapshot_path": "snapshot",
            "cleaned_path": "cleaned",
            "changes_path": "changes",
        },
    ),
    Step(
        "split",
        steps.split,
        inputs={"config": "config", "code_version": "code_version", "cleaned": "clean.cleaned"},
        outputs={"train_set": DATASET, "test_set": DATASET},
        args={
            "config_json": "config",
            "cleaned_path": "cleaned",
            "train_path": "train_set",
            "test_path": "test_set",
        },
    ),
    Step(
        "train",
        steps.train,
        inputs={
            "config": "config",
            "feature_types": "validate.feature_types",
            "code_version": "code_version",
            "train_set": "split.train_set",
        },
        outputs={"model": MODEL, "candidates": ARTIFACT},
        args={
            "config_json": "config",
            "types_json": "feature_types",
            "train_path": "train_set",
            "model_path": "model",
            "candidates_path": "candidates",
        },
        result="candidate",
    ),
    Step(
        "evaluate",
        steps.evaluate,
        inputs={
            "config": "config",
            "feature_types": "validate.feature_types",
            "root": "root",
            "champion_version": "champion_version",
            "code_version": "code_version",
            "model": "train.model",
            "candidates": "train.candidates",
            "test_set": "split.test_set",
        },
        outputs={
            "evaluation": ARTIFACT,
            "metrics": METRICS,
            "classification": CLASSIFICATION,
            "roc_curve": ARTIFACT,
            "confusion_matrix": ARTIFACT,
            "calibration_curve": ARTIFACT,
        },
        args={
            "config_json": "config",
            "types_json": "feature_types",
            "root": "root",
            "champion_version": "champion_version",
            "model_path": "model",
            "candidates_path": "candidates",
            "test_path": "test_set",
            "evaluation_path": "evaluation",
            "roc_path": "roc_curve",
            "confusion_path": "confusion_matrix",
            "calibration_path": "calibration_curve",
        },
        shell_outputs=("metrics", "classification"),  # for KFP's UI
    ),
    Step(
        "register",
        steps.register,
        inputs={
            "config": "config",
            "feature_types": "validate.feature_types",
            "root": "root",
            "champion_version": "champion_version",
            "data_hash": "ingest.data_hash",
            "git_commit": "git_commit",
            "run_id": RUN_ID,
            "code_version": "code_version",
            "snapshot": "ingest.snapshot",
            "model": "train.model",
            "cleaned": "clean.cleaned",
            "train_set": "split.train_set",
            "test_set": "split.test_set",
            "evaluation": "evaluate.evaluation",
            "candidates": "train.candidates",
            "validation_report": "validate.report",
            "changes": "clean.changes",
            "roc_curve": "evaluate.roc_curve",
            "confusion_matrix": "evaluate.confusion_matrix",
            "calibration_curve": "evaluate.calibration_curve",
        },
        outputs={"registration": ARTIFACT, "report": HTML},
        args={
            "config_json": "config",
            "types_json": "feature_types",
            "root": "root",
            "champion_version": "champion_version",
            "lineage": {
                "data_hash": "data_hash",
                "snapshot_uri": Uri("snapshot"),
                "pipeline_run": "run_id",
                "git_commit": "git_commit",
                "code_version": "code_version",
                "libraries": library_versions,
            },
            "model_path": "model",
            "cleaned_path": "cleaned",
            "train_path": "train_set",
            "test_path": "test_set",
            "evaluation_path": "evaluation",
            "candidates_path": "candidates",
            "validation_path": "validation_report",
            "changes_path": "changes",
            "artifacts": {
                "roc_curve.png": "roc_curve",
                "confusion_matrix.png": "confusion_matrix",
                "calibration_curve.png": "calibration_curve",
            },
            "registration_path": "registration",
            "report_path": "report",
        },
        result="version",
        # The registry is state outside the pipeline: never answer this step from the cache.
        cache=False,
        display_name="gate-and-register",
    ),
)

BY_NAME = {step.name: step for step in STEPS}
NAMES = tuple(BY_NAME)


def call(name: str, values: Mapping[str, Any]) -> Any:
    """Run step `name` on `values` (its inputs and outputs by declared name; an artifact as a
    KFP artifact or as a local path); returns what the step function returns."""
    step = BY_NAME[name]
    return step.function(**{kw: _resolve(arg, values) for kw, arg in step.args.items()})


def _resolve(arg: Arg, values: Mapping[str, Any]) -> Any:
    if isinstance(arg, str):
        value = values[arg]
        return value if isinstance(value, str) else value.path
    if isinstance(arg, Uri):
        value = values[arg.name]
        return value if isinstance(value, str) else value.uri
    if isinstance(arg, Mapping):
        return {key: _resolve(inner, values) for key, inner in arg.items()}
    return arg()


def source_step(source: str) -> tuple[str, str] | None:
    """("ingest", "snapshot") for "ingest.snapshot"; None for a parameter or the run id."""
    if "." not in source:
        return None
    step, output = source.split(".", 1)
    return step, output
