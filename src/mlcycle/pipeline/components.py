"""KFP v2 components: each is a thin shell over one function in `mlcycle.pipeline.steps`.

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
    from mlcycle.pipeline import lifeline, steps

    lifeline.hold()

    return steps.ingest(config, root, snapshot.path, report.path)


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
    from mlcycle.pipeline import lifeline, steps

    lifeline.hold()

    return steps.validate(
        config, root, champion_version, snapshot.path, ingest_report.path, report.path
    )


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
    from mlcycle.pipeline import lifeline, steps

    lifeline.hold()

    steps.clean(config, feature_types, snapshot.path, cleaned.path, changes.path)


@_component
def split(
    config: str,
    code_version: str,
    cleaned: Input[Dataset],
    train_set: Output[Dataset],
    test_set: Output[Dataset],
):
    """Stratified, seeded train/test split."""
    from mlcycle.pipeline import lifeline, steps

    lifeline.hold()

    steps.split(config, cleaned.path, train_set.path, test_set.path)


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
    from mlcycle.pipeline import lifeline, steps

    lifeline.hold()

    chosen = steps.train(config, feature_types, train_set.path, model.path, candidates.path)
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
    test_set: Input[Dataset],
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
    roc_curve: Output[Artifact],
    confusion_matrix: Output[Artifact],
):
    """Test metrics and plots for the challenger; the champion scored on the same split."""
    import json
    from pathlib import Path

    from mlcycle.pipeline import lifeline, steps

    lifeline.hold()

    result = steps.evaluate(
        config,
        feature_types,
        root,
        champion_version,
        model.path,
        test_set.path,
        evaluation.path,
        roc_curve.path,
        confusion_matrix.path,
    )
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
    test_set: Input[Dataset],
    evaluation: Input[Artifact],
    candidates: Input[Artifact],
    validation_report: Input[Artifact],
    changes: Input[Artifact],
    roc_curve: Input[Artifact],
    confusion_matrix: Input[Artifact],
    registration: Output[Artifact],
    report: Output[HTML],
) -> str:
    """Gate the challenger; register it (ONNX export, HTML report) either way; switch champion."""
    from mlcycle.lineage import library_versions
    from mlcycle.pipeline import lifeline, steps

    lifeline.hold()

    lineage = {
        "data_hash": data_hash,
        "snapshot_uri": snapshot.uri,
        "pipeline_run": run_id,
        "git_commit": git_commit,
        "code_version": code_version,
        "libraries": library_versions(),
    }
    result = steps.register(
        config,
        feature_types,
        root,
        champion_version,
        lineage,
        model.path,
        cleaned.path,
        test_set.path,
        evaluation.path,
        candidates.path,
        validation_report.path,
        changes.path,
        {"roc_curve.png": roc_curve.path, "confusion_matrix.png": confusion_matrix.path},
        registration.path,
        report.path,
    )
    return result["version"]
