"""Registering a trained model: the gate, the version's record and files, the champion switch.

The pipeline's register step reads its input artifacts into `Candidate`, calls
`register_candidate` and writes what it returns; everything it decides lives here.

A challenger is registered as a version whether or not it is promoted (its record says why),
unless the registry already holds exactly this model (a cached rerun). Promotion is a
compare-and-swap on the champion the run started from: a run that finds another champion,
before or while promoting, is not promoted and `lost` says so.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field

from mlcycle.config import ColumnType, DatasetConfig
from mlcycle.model.champion import Mover
from mlcycle.model.registry import (
    MODEL_FILE,
    REPORT_FILE,
    ChampionChangedError,
    Registry,
    sha256,
)
from mlcycle.model.version import ChampionScore, GateDecision, ModelVersion, OnnxRecord, Record

if TYPE_CHECKING:  # the CLI and the watcher read a Registration without paying for pandas
    import pandas as pd


@dataclass
class Candidate:
    """What a run hands the registry: the fitted model and what the steps before said of it."""

    config: DatasetConfig
    types: dict[str, ColumnType]
    model: Any  # the fitted scikit-learn pipeline
    model_bytes: bytes  # its joblib file, as stored
    cleaned: pd.DataFrame  # the whole cleaned table: the feature schema's ranges
    test: pd.DataFrame  # the test split: the ONNX export is checked on it
    evaluation: dict[str, Any]  # the evaluate step's output (metrics, champion, test rows)
    training: dict[str, Any]  # chosen, scoring, candidates
    validation: dict[str, Any]  # the validate step's report
    cleaning: dict[str, Any]  # what clean changed
    lineage: dict[str, Any]
    images: dict[str, bytes] = field(default_factory=dict)  # the plots, by file name
    # The training split: the version's reference statistics (drift) are made from it.
    train: pd.DataFrame | None = None


class Registration(Record):
    """What a register step did: its summary artifact, and what `mlcycle run` prints."""

    version: str
    registered: bool = Field(description="False when the registry already held this model.")
    promoted: bool
    lost: bool = Field(False, description="Another run changed the champion while this ran.")
    gate: GateDecision
    metrics: dict[str, float]
    champion_before: ChampionScore | None
    champion: str | None = Field(description="The champion after this run.")
    candidate: str | None
    warnings: list[dict[str, Any]]
    onnx: OnnxRecord | None = Field(description="How the API serves it: onnxruntime, or why not.")


def gate_challenger(
    candidate: Candidate, started_with: str | None, current: str | None
) -> tuple[GateDecision, bool]:
    """The gate's decision, refused if the champion is no longer the one the run started
    from (then also True: this run lost to another)."""
    from mlcycle.model.gate import decide

    metrics, champion = candidate.evaluation["metrics"], candidate.evaluation["champion"]
    decision = decide(metrics, champion and champion["metrics"], candidate.config.gate)
    lost = (current or None) != (started_with or None)
    if lost:
        decision = decision.refused(
            f"the champion changed during this run ({started_with or 'none'} -> "
            f"{current or 'none'}); not promoted, run again to compare with the new champion"
        )
    return decision, lost


def version_fields(candidate: Candidate, gate: GateDecision) -> dict[str, Any]:
    """Every field of the new version's record but those the registry adds (id, time, file)."""
    from mlcycle.data.schema import build_feature_schema  # pandas

    evaluation, validation = candidate.evaluation, candidate.validation
    return {
        "dataset": candidate.config.name,
        "gate": gate,
        "metrics": evaluation["metrics"],
        "evaluation": {k: evaluation[k] for k in ("classes", "confusion", "test_rows")},
        "champion_at_evaluation": evaluation["champion"],
        # The operating point is the version's own field, not a detail of training.
        "training": {k: v for k, v in candidate.training.items() if k != "operating_point"},
        "operating_point": candidate.training.get("operating_point"),
        "data": {
            "validation": {k: validation[k] for k in ("warnings", "info")},
            "cleaning": candidate.cleaning,
        },
        "lineage": {**candidate.lineage, "parameters": candidate.config.model_dump(mode="json")},
        "schema": build_feature_schema(candidate.cleaned, candidate.types, candidate.config),
        "model": {"candidate": candidate.training["chosen"]},
    }


def version_files(
    candidate: Candidate, meta: ModelVersion
) -> tuple[ModelVersion, dict[str, bytes]]:
    """The version's files: the model, its ONNX export (checked on the test split, or the
    record says why there is none), the training reference (drift), the plots and the HTML
    report rendered from `meta`."""
    from mlcycle.model.export import ONNX_FILE, export_onnx
    from mlcycle.model.reference import REFERENCE_FILE, build_reference
    from mlcycle.model.report import IMAGES, render_report

    exported = export_onnx(candidate.model, candidate.test, candidate.types)
    meta = meta.model_copy(update={"onnx": OnnxRecord.model_validate(exported.record)})
    files = {MODEL_FILE: candidate.model_bytes, **candidate.images}
    if exported.onnx is not None:
        files[ONNX_FILE] = exported.onnx
    if candidate.train is not None:
        reference = build_reference(candidate.train, candidate.types, candidate.config.drift.bins)
        files[REFERENCE_FILE] = (json.dumps(reference.to_json(), indent=1) + "\n").encode()
    images = {name: files[name] for name in IMAGES if name in files}
    files[REPORT_FILE] = render_report(meta, images).encode()
    return meta, files


def record_gate(registry: Registry, meta: ModelVersion, gate: GateDecision) -> ModelVersion:
    """Rewrite a version's gate decision (and its report) after it lost the promotion."""
    from mlcycle.model.report import IMAGES, render_report

    meta = meta.model_copy(update={"gate": gate})
    files = {}
    if meta.has(REPORT_FILE):
        images = {n: registry.read_artifact(meta.version, n) for n in IMAGES if meta.has(n)}
        files[REPORT_FILE] = render_report(meta, images).encode()
    return registry.amend(meta, files)


def report_of(registry: Registry, meta: ModelVersion) -> bytes:
    """The version's HTML report (a placeholder for versions registered before reports)."""
    if meta.has(REPORT_FILE):
        return registry.read_artifact(meta.version, REPORT_FILE)
    return f"<p>Version {meta.version} has no report.</p>".encode()


def register_candidate(
    registry: Registry,
    candidate: Candidate,
    champion_version: str | None,
    before_write: Callable[[], None] = lambda: None,
) -> tuple[Registration, bytes]:
    """Gate the challenger, register it as a version (unless already registered), switch the
    champion if the gate says so; the summary and the version's report.

    `champion_version` is the champion the run started from (and evaluated against).
    `before_write` runs before each write to the registry and may raise to stop it (the
    pipeline's check that the run that started this step is still alive).
    """
    champion_version = champion_version or None
    gate, lost = gate_challenger(candidate, champion_version, registry.champion_version())
    meta = registry.find_by_model(sha256(candidate.model_bytes))
    registered = meta is None
    if meta is None:
        fields = version_fields(candidate, gate)
        new = registry.new_version({MODEL_FILE: candidate.model_bytes}, fields)
        meta, files = version_files(candidate, new)
        before_write()  # a run stopped mid-way registers nothing
        registry.remove_incomplete()  # what a killed registration left
        meta = registry.register(files, meta)
    if gate.promote:
        before_write()
        try:  # a compare-and-swap: of two runs promoting at once, one wins
            registry.promote(
                meta.version,
                gate.reasons,
                expected=champion_version,
                kind="pipeline",
                by=Mover(
                    tool="pipeline",
                    run_id=candidate.lineage.get("pipeline_run"),
                    host=socket.gethostname(),
                ),
            )
        except ChampionChangedError as exc:
            lost = True
            gate = gate.refused(str(exc))
            if registered:  # the version's own record says it was not promoted, and why
                meta = record_gate(registry, meta, gate)
    summary = Registration(
        version=meta.version,
        registered=registered,
        promoted=gate.promote,
        lost=lost,
        gate=gate,
        metrics=candidate.evaluation["metrics"],
        champion_before=candidate.evaluation["champion"],
        champion=registry.champion_version(),
        candidate=meta.model.candidate,
        warnings=candidate.validation["warnings"],
        onnx=meta.onnx,
    )
    return summary, report_of(registry, meta)
