"""Response bodies, for the OpenAPI document and for clients to read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Prediction(BaseModel):
    label: str = Field(description="The most probable class.")
    probabilities: dict[str, float] = Field(description="Probability of every class.")
    passthrough: dict[str, Any] | None = Field(
        None, description="The fields named in ?passthrough=, as sent (only when named)."
    )


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="One per instance, in request order.")
    model_version: str = Field(description="The registry version that made these predictions.")


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


class ModelInfo(BaseModel):
    version: str
    created_at: str
    dataset: str | None = None
    candidate: str | None = None
    metrics: dict[str, float]
    metric_descriptions: dict[str, str] = Field(
        default_factory=dict, description="What each metric measures, in a sentence."
    )
    gate: dict[str, Any]
    lineage: dict[str, Any]
    evaluation: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    artifacts: list[str] = Field(description="Images served by /v1/model/artifacts/{name}.")
    report: bool = Field(False, description="Whether /v1/model/report serves an HTML report.")
    serving: dict[str, Any] = Field(
        description="How this process serves it: backend, load time, ONNX export record."
    )


class FeatureSchema(BaseModel):
    model_version: str
    label: str
    classes: list[str]
    positive_class: str | None = None
    features: list[dict[str, Any]] = Field(
        description="Name, type, observed range and median (numeric) or categories (text)."
    )
    examples: dict[str, list[dict[str, Any]]] = Field(
        description="Real training instances per class, ready to send to /v1/predict."
    )


class ReloadResult(BaseModel):
    outcome: str = Field(description="loaded, unchanged, refused or no_champion.")
    model_version: str | None = Field(description="The version now being served.")
    detail: str = ""
