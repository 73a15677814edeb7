"""KFP v2 components: each is a thin shell over one step declared in `contract.STEPS`.

A component's signature is its KFP interface, which KFP reads from this source (and ships to
the step's process), so it is written here; tests/unit/test_contract.py checks it against
the declaration. The body hands its arguments to `contract.call`, which calls the step
function with the keywords the declaration maps them to; only what is KFP's own (metrics
for its UI, an artifact's metadata) is done here.

No `from __future__ import annotations` here: KFP reads the real type annotations.

Imports sit inside the bodies because KFP ships each body to its own process (or container).
`install_kfp_package=False`: the project image already holds a pinned kfp, and locally the
current environment does; skipping KFP's pip step saves time on every task.
"""

from kfp import dsl
from kfp.dsl import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    Input,
    Metrics,
    Model,
    Output,
)

# The project's pipeline image (Dockerfile target `pipeline`). `mlcycle submit --image`
# replaces it with the pushed image; kfp.local ignores it and runs in this environment.
DEFAULT_IMAGE = "mlcycle-pipeline:python3.11"


def _component(fn):
    return dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)(fn)


@_component
def ingest(
    config: str,
    root: str,
    incoming_fingerprint: str,
    code_version: str,
    snapshot: Output[Dataset],
    report: Output[Artifact],
) -> str:
    """Read every file under <root>/data/incoming into one Parquet snapshot; returns its hash."""
    from mlcycle.pipeline import contract, lifeline

    lifeline.hold()

    return contract.call("ingest", locals())


@_component
def validate(
    config: str,
    root: str,
    champion_version: str,
    code_version: str,
    snapshot: Input[Dataset],
    ingest_report: Input[Artifact],
    report: Output[Artifact],
) -> str:
    """Check the snapshot against the config and the champion's schema; returns feature types."""
    from mlcycle.pipeline import contract, lifeline

    lifeline.hold()

    return contract.call("validate", locals())


@_component
def clean(
    config: str,
    feature_types: str,
    code_version: str,
    snapshot: Input[Dataset],
    cleaned: Output[Dataset],
    changes: Output[Artifact],
):
    """Keep the model's columns, coerce types, drop unlabelled and duplicate rows."""
    from mlcycle.pipeline import contract, lifeline

    lifeline.hold()

    contract.call("clean", locals())


@_component
def split(
    config: str,
    code_version: str,
    cleaned: Input[Dataset],
    train_set: Output[Dataset],
    test_set: Output[Dataset],
):
    """Stratified, seeded train/test split."""
    from mlcycle.pipeline import contract, lifeline

    lifeline.hold()

    contract.call("split", locals())


@_component
def train(
    config: str,
    feature_types: str,
    code_version: str,
    train_set: Input[Dataset],
    model: Output[Model],
    candidates: Output[Artifact],
) -> str:
    """Tune every candidate by cross-validation on the training split; keep the best."""
    from mlcycle.pipeline import contract, lifeline

    lifeline.hold()

    chosen = contract.call("train", locals())
    model.metadata["candidate"] = chosen
    return chosen


@_component
def evaluate(
    config: str,
    feature_types: str,
    root: str,
    champion_version: str,
    code_version: str,
    model: Input[Model],
    candidates: Input[Artifact],
    test_set: Input[Dataset],
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
    roc_curve: Output[Artifact],
    confusion_matrix: Output[Artifact],
    calibration_curve: Output[Artifact],
):
    """Test metrics and plots for the challenger; the champion scored on the same split."""
    import json
    from pathlib import Path

    from mlcycle.pipeline import contract, lifeline

    lifeline.hold()

    result = contract.call("evaluate", locals())
    for name, value in result["metrics"].items():
        metrics.log_metric(name, value)
    classification.log_confusion_matrix(result["classes"], result["confusion"])
    curve = next(iter(result["roc"].values()))
    classification.log_roc_curve(curve["fpr"], curve["tpr"], curve["thresholds"])
    # KFP's cache treats an artifact without a file as missing: write the values out.
    Path(metrics.path).write_text(json.dumps(result["metrics"]))
    Path(classification.path).write_text(json.dumps(classification.metadata))


@_component
def register(
    config: str,
    feature_types: str,
    root: str,
    champion_version: str,
    data_hash: str,
    git_commit: str,
    run_id: str,
    code_version: str,
    snapshot: Input[Dataset],
    model: Input[Model],
    cleaned: Input[Dataset],
    train_set: Input[Dataset],
    test_set: Input[Dataset],
    evaluation: Input[Artifact],
    candidates: Input[Artifact],
    validation_report: Input[Artifact],
    changes: Input[Artifact],
    roc_curve: Input[Artifact],
    confusion_matrix: Input[Artifact],
    calibration_curve: Input[Artifact],
    registration: Output[Artifact],
    report: Output[HTML],
) -> str:
    """Gate the challenger; register it (ONNX export, HTML report) either way; switch champion."""
    from mlcycle.pipeline import contract, lifeline

    lifeline.hold()

    return contract.call("register", locals())["version"]
