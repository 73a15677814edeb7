"""The API's settings: the project's settings plus the serving knobs, from MLCYCLE_* variables."""

from __future__ import annotations

from pydantic import Field, SecretStr

from mlcycle.settings import Settings


class ApiSettings(Settings):
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for POST /v1/model/reload; reload is off without one."
    )
    poll_seconds: float = Field(
        2.0, gt=0, description="How often the champion pointer is checked for a new model."
    )
    max_instances: int = Field(10_000, ge=1, description="Most instances in one request.")
    max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes)."
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="A request's headers must arrive within this (else 408, closed)."
    )
    body_timeout_seconds: float = Field(
        60.0, gt=0, description="A request's body must arrive within this after its headers."
    )


def get_api_settings(**overrides: object) -> ApiSettings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    return ApiSettings(**{k: v for k, v in overrides.items() if v is not None})
