"""The UI's settings, from MLCYCLE_* variables (and `.env`). Built when asked for."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8081


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MLCYCLE_", env_file=".env", extra="ignore")

    api_url: str = Field(
        "http://127.0.0.1:8080", description="Base URL of the prediction API (mlcycle serve)."
    )
    api_timeout: float = Field(
        10.0, gt=0, description="Seconds to wait for the API before showing the 503 page."
    )
    ui_max_upload_bytes: int = Field(
        5 * 1024 * 1024, ge=1, description="Largest CSV the batch page accepts (bytes)."
    )
    ui_max_rows: int = Field(
        10_000, ge=1, description="Most rows in one batch upload (the API's default limit)."
    )
    ui_proxy_hops: int = Field(
        0,
        ge=0,
        description="Proxies in front of the UI whose X-Forwarded-Proto and -For are trusted "
        "(Cloud Run: 1). Behind HTTPS the session cookie is then Secure and HSTS is sent.",
    )
    ui_secret_key: SecretStr | None = Field(
        None,
        description="Signs the session cookie that holds the CSRF token. Set it when more than "
        "one process or instance serves the UI; `mlcycle ui` makes one for its own workers.",
    )


def get_ui_settings(**overrides: object) -> UiSettings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    return UiSettings(**{k: v for k, v in overrides.items() if v is not None})
