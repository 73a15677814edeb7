"""Prediction requests: the checks built from a model's feature schema, and readable errors.

Validation runs in pydantic-core straight from the JSON bytes (one pass in Rust), into plain
dicts, which are then read into arrays in bulk. Every error names the field and the instance.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired, Required

import numpy as np
from pydantic import ConfigDict, Field, GetPydanticSchema, TypeAdapter, ValidationError
from pydantic_core import to_json
from typing_extensions import TypedDict

from mlcycle.data.categories import as_trained, category_text
from mlcycle.model.input_checks import hard_limits
from mlcycle.model.predict import FeatureBatch
from mlcycle.model.version import Feature, FeatureSchema

MAX_REPORTED_ERRORS = 20


def bounds(feature: Feature) -> tuple[float, float]:
    """What the JSON checks accept of a number at all (values a model cannot compute with are
    refused there); the version's serving rules (`model.input_checks`) then apply."""
    return hard_limits(feature)


class RequestError(Exception):
    """A request the API refuses: HTTP status, a summary, and one entry per problem."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: tuple[dict[str, Any], ...] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors
        self.headers = headers or {}

    def payload(self) -> dict[str, Any]:
        return {"detail": self.message, "errors": list(self.errors)}

    def payload_json(self) -> bytes:
        return to_json(self.payload())


def problem(instance: int | None, field: str, kind: str, message: str) -> dict[str, Any]:
    """One entry of an error's `errors`: which instance (row) and field, what kind, and why."""
    return {"instance": instance, "field": field, "type": kind, "message": message}


def refusal(status: int, message: str, field: str = "", kind: str = "") -> RequestError:
    """A refusal with one problem, saying `message`; with no field, no entry is listed."""
    return RequestError(status, message, (problem(None, field, kind, message),) if field else ())


def too_many(max_instances: int) -> RequestError:
    return RequestError(
        413,
        f"too many instances: at most {max_instances} per request",
        (problem(None, "instances", "too_long", f"at most {max_instances} instances per request"),),
    )


def problems(errors: list[dict[str, Any]]) -> RequestError:
    """422 for every problem found, the first MAX_REPORTED_ERRORS listed."""
    return RequestError(
        422,
        f"{len(errors)} problem(s) in the request"
        + (
            f"; the first {MAX_REPORTED_ERRORS} are listed"
            if len(errors) > MAX_REPORTED_ERRORS
            else ""
        ),
        tuple(errors[:MAX_REPORTED_ERRORS]),
    )


def _feature_type(feature: Feature) -> Any:
    """A JSON number (or a string for categorical features); null means missing, and is imputed
    exactly as missing training values were. Strings are never coerced to numbers."""
    if feature.type == "numeric":
        low, high = bounds(feature)
        description = (
            f"Number; seen in training: {feature.min} to {feature.max}, "
            f"median {feature.median}. null = unknown (imputed). Outside that range: answered "
            "with a warning; far outside it (serving.range_tolerance) or across a declared "
            "bound: refused."
        )
        return Annotated[
            float | None,
            Field(
                strict=True,
                allow_inf_nan=False,
                ge=low,
                le=high,
                description=description,
            ),
        ]
    categories = feature.categories or []
    description = (
        f"Text; seen in training: {', '.join(map(str, categories[:20]))}. null = unknown "
        "(imputed). Another value: answered with a warning (unseen_category). true/false and "
        "whole numbers are the text training read them as (True, False, 12345)."
    )
    return Annotated[str | None, _CATEGORY, Field(description=description)]


def _category_schema(_source: Any, _handler: Any) -> Any:
    """Text, or a JSON boolean or number turned into its training text; one error otherwise.
    Text is checked in pydantic-core alone: only a boolean or a number calls Python."""
    from pydantic_core import core_schema as cs

    scalar = cs.union_schema(
        [
            cs.bool_schema(strict=True),
            cs.int_schema(strict=True),
            cs.float_schema(strict=True, allow_inf_nan=False),
        ]
    )
    return cs.nullable_schema(
        cs.union_schema(
            [
                cs.str_schema(strict=True),
                cs.no_info_after_validator_function(category_text, scalar),
            ],
            custom_error_type="text_type",
            custom_error_message="Input should be text (true/false and numbers are read as text)",
        )
    )


_CATEGORY = GetPydanticSchema(_category_schema)


def request_adapter(schema: FeatureSchema, max_instances: int) -> TypeAdapter:
    """The checks for `{"instances": [...], "parameters": {...}}` under this feature schema."""
    instance = TypedDict(  # type: ignore[misc]
        "Instance", {f.name: _feature_type(f) for f in schema.features}
    )
    instance.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    body = TypedDict(  # type: ignore[misc]  # noqa: UP013 (built at run time)
        "PredictRequest",
        {
            "instances": Required[
                Annotated[
                    list[instance],
                    Field(
                        min_length=1,
                        max_length=max_instances,
                        description=f"1 to {max_instances} instances, each with every feature.",
                    ),
                ]
            ],
            # Vertex AI's prediction contract allows parameters; none are used yet.
            "parameters": NotRequired[dict[str, Any]],
        },
        total=False,
    )
    body.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return TypeAdapter(body)


def _describe(error: dict[str, Any], max_instances: int) -> dict[str, Any]:
    loc = list(error["loc"])
    instance = loc[1] if len(loc) > 1 and loc[0] == "instances" else None
    if loc[:1] == ["instances"] and len(loc) >= 3:
        field = str(loc[2])
    elif loc:
        field = str(loc[0])
    else:
        field = "body"
    message = {
        "missing": f"feature {field!r} is missing",
        "extra_forbidden": f"unknown field {field!r}",
        "too_long": f"at most {max_instances} instances per request",
    }.get(error["type"], error["msg"])
    if error["type"] == "missing" and field == "instances":
        message = "the body needs an 'instances' list"
    return problem(instance, field, error["type"], message)


def parse_instances(adapter: TypeAdapter, body: bytes, max_instances: int) -> list[dict[str, Any]]:
    """The validated instances, or RequestError naming every problem (first few reported)."""
    try:
        parsed = adapter.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise RequestError(
                400,
                f"the body is not valid JSON: {errors[0]['msg']}",
                (problem(None, "body", "json_invalid", errors[0]["msg"]),),
            ) from None
        if any(e["type"] == "too_long" and tuple(e["loc"]) == ("instances",) for e in errors):
            raise too_many(max_instances) from None
        raise problems([_describe(e, max_instances) for e in errors]) from None
    return parsed["instances"]


def to_batch(instances: list[dict[str, Any]], schema: FeatureSchema) -> FeatureBatch:
    """Column blocks in the schema's order; JSON null becomes NaN (numeric) or None (text)."""
    numeric = [f.name for f in schema.features if f.type == "numeric"]
    categorical = [f.name for f in schema.features if f.type != "numeric"]

    def block(names: list[str], dtype: Any) -> np.ndarray:
        if not names:
            return np.empty((len(instances), 0), dtype=dtype)
        get = operator.itemgetter(*names)
        rows = [get(i) for i in instances]
        if len(names) == 1:
            rows = [(r,) for r in rows]
        return np.array(rows, dtype=dtype)  # None -> nan for float64

    values = block(numeric, np.float64)
    texts = block(categorical, object)
    for j, feature in enumerate(f for f in schema.features if f.type != "numeric"):
        texts[:, j] = as_trained(texts[:, j], feature.categories)  # "true" sent as text
    return FeatureBatch(numeric, values, categorical, texts)
