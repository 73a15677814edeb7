"""The API's settings: the project's settings plus the serving knobs, from MLCYCLE_* variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from mlcycle.settings import Settings

MIN_TOKEN_LENGTH = 16


class ApiSettings(Settings):
    admin_token: SecretStr | None = Field(
        None,
        description=f"Bearer token for POST /v1/model/reload, at least {MIN_TOKEN_LENGTH} "
        "characters; reload is off without one.",
    )
    poll_seconds: float = Field(
        2.0, gt=0, description="How often the champion pointer is checked for a new model."
    )
    max_instances: int = Field(10_000, ge=1, description="Most instances in one request.")
    max_body_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest request body accepted (bytes)."
    )
    storage_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait for the registry's storage (a model, an artifact, the "
        "champion pointer) before answering 504; the health checks never wait for it.",
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="A request's headers must arrive within this (else 408, closed)."
    )
    body_timeout_seconds: float = Field(
        60.0, gt=0, description="A request's body must arrive within this after its headers."
    )

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is None or not token.get_secret_value():
            return None  # an empty variable means no token: reload off
        if len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"MLCYCLE_ADMIN_TOKEN must be at least {MIN_TOKEN_LENGTH} characters "
                "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return token


def get_api_settings(**overrides: object) -> ApiSettings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    return ApiSettings(**{k: v for k, v in overrides.items() if v is not None})
