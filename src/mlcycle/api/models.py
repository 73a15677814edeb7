"""Response bodies, for the OpenAPI document and for clients to read.

A model version's parts are the core's types (mlcycle.model.version), returned as they are
stored: /openapi.json describes every field of them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from mlcycle.feedback import LiveMetrics
from mlcycle.model.champion import ChampionMove
from mlcycle.model.input_checks import InputWarnings
from mlcycle.model.version import (
    Evaluation,
    FeatureSchema,
    GateDecision,
    Lineage,
    OnnxRecord,
    OperatingPoint,
    Training,
)


class Prediction(BaseModel):
    label: str = Field(
        description="The predicted class: for two classes, the positive class when its "
        "probability reaches the version's operating point (`/v1/model` operating_point), "
        "else the other; otherwise the most probable class."
    )
    probabilities: dict[str, float] = Field(description="Probability of every class.")
    passthrough: dict[str, Any] | None = Field(
        None, description="The fields named in ?passthrough=, as sent (only when named)."
    )
    warnings: InputWarnings = Field(
        default_factory=InputWarnings,
        description="What this instance has that the model did not see in training: features "
        "outside their training range, how many features were imputed, and categorical "
        "values never seen.",
    )


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="One per instance, in request order.")
    model_version: str = Field(description="The registry version that made these predictions.")
    request_id: str | None = Field(
        None,
        description="This answer's id (also its x-request-id header): POST /v1/feedback "
        "refers to its predictions by it.",
    )


class ErrorItem(BaseModel):
    instance: int | None = Field(description="Index of the instance at fault, if any.")
    field: str = Field(description="The feature or body field at fault.")
    type: str
    message: str


class ErrorResponse(BaseModel):
    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)


class Status(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None


class Refusal(BaseModel):
    version: str = Field(description="The champion refused ('' when its pointer was unreadable).")
    reason: str
    at: str = Field(description="When, ISO 8601 UTC.")


class ServingInfo(BaseModel):
    backend: str = Field(description="onnxruntime or scikit-learn.")
    loaded_at: str = Field(description="When this process loaded the model, ISO 8601 UTC.")
    onnx: OnnxRecord | None = Field(description="The version's ONNX export record.")
    last_refusal: Refusal | None = Field(
        description="The last champion this process refused to load, and why."
    )


class ModelInfo(BaseModel):
    version: str
    created_at: str = Field(description="When the version was registered, ISO 8601 UTC.")
    dataset: str | None = None
    candidate: str | None = Field(None, description="The candidate training chose.")
    metrics: dict[str, float] = Field(description="Test-split metrics by name.")
    metric_descriptions: dict[str, str] = Field(
        default_factory=dict, description="What each metric measures, in a sentence."
    )
    gate: GateDecision
    lineage: Lineage
    evaluation: Evaluation = Field(default_factory=Evaluation)
    training: Training = Field(default_factory=Training)
    operating_point: OperatingPoint | None = Field(
        None, description="How a probability becomes a label (none: the most probable class)."
    )
    artifacts: list[str] = Field(description="Images served by /v1/model/artifacts/{name}.")
    report: bool = Field(False, description="Whether /v1/model/report serves an HTML report.")
    serving: ServingInfo = Field(description="How this process serves it.")
    champion: ChampionMove | None = Field(
        None,
        description="How it became the champion: the newest move of the champion pointer (when, "
        "kind, from which version, by what, why); null for a pointer written before the history.",
    )
    live: LiveMetrics | None = Field(
        None,
        description="Its accuracy and recall on the ground truth received (POST /v1/feedback); "
        "null while the stored feedback has not been read.",
    )


class ServedSchema(FeatureSchema):
    """The feature schema of the version being served."""

    model_version: str


class ReloadResult(BaseModel):
    outcome: str = Field(description="loaded, unchanged, refused or no_champion.")
    model_version: str | None = Field(description="The version now being served.")
    detail: str = ""


class ChampionHistory(BaseModel):
    """The moves that made the served version the champion, newest first."""

    model_version: str = Field(description="The version being served.")
    moves: list[ChampionMove] = Field(description="Newest first; the first made it champion.")
    problem: str | None = Field(None, description="What cut the history short, if anything.")


class FeedbackItem(BaseModel):
    """The true label of one logged prediction."""

    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(
        min_length=1, max_length=128, description="The answer's id (its x-request-id)."
    )
    row: int = Field(0, ge=0, description="The instance within that request, from 0.")
    label: StrictStr | StrictInt = Field(description="The true class.")


class FeedbackResult(BaseModel):
    accepted: int = Field(description="Items stored.")
    live: LiveMetrics | None = Field(description="The champion's metrics on all feedback so far.")
