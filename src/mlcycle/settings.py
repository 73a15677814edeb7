"""Every setting mlcycle reads, in one module. Built when asked for; nothing is read at import.

`MLCYCLE_*` variables come from the environment, then `.env` in the current folder:
`Settings` (the project: root, config, pipeline runs), `ApiSettings` (those plus the API's),
`UiSettings` (the web UI's). `Platform` holds the variables a platform sets, unprefixed:
Cloud Run's PORT, Vertex AI's AIP_*, gunicorn's WEB_CONCURRENCY, the GCS emulator's host.
`.env.example` documents each variable; tests/unit/test_settings.py keeps it, and the README's
table, in step with the classes here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Shipped inside the package, so the default works from any folder; configs/ in the repository
# holds the same file for users to copy.
DEFAULT_CONFIG = Path(__file__).parent / "configs" / "breast_cancer.yaml"
MIN_TOKEN_LENGTH = 16
ENV_PREFIX = "MLCYCLE_"


class _MlcycleSettings(BaseSettings):
    """What every MLCYCLE_* section shares: the prefix, `.env`, other variables ignored."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")


class Settings(_MlcycleSettings):
    """The project's settings: where everything lives and how local runs behave."""

    root: str = Field(
        "./.mlcycle",
        description="Where data, pipeline artifacts and the model registry live: "
        "a local folder or any fsspec URI such as gs://bucket/prefix.",
    )
    config: Path = Field(
        DEFAULT_CONFIG,
        description="The data-set config file (YAML); a relative path is relative to the "
        "current folder. Default: the breast-cancer config shipped in the package.",
    )
    pipeline_root: str | None = Field(
        None,
        description="Local folder for kfp.local's artifacts; defaults to <root>/pipeline "
        "when root is local, else ./.mlcycle-pipeline (kfp.local cannot write to a bucket).",
    )
    keep_runs: int = Field(
        10,
        ge=1,
        description="Local runs whose intermediate artifacts (and logs) stay under the "
        "pipeline root; older ones are deleted after each run, except the run folders that "
        "hold a registered version's snapshot.",
    )
    git_commit: str | None = Field(
        None,
        description="The commit recorded in each version's lineage (set in the images and by "
        "CI); default: asked of git.",
    )
    warm_steps: bool = Field(
        True,
        description="Fork each local pipeline step from a process that has imported kfp, "
        "pandas and scikit-learn already (several times faster than kfp.local's own start); "
        "false: start every step cold, through kfp's shell script.",
    )

    @field_validator("root")
    @classmethod
    def _normalized(cls, root: str) -> str:
        # Here, where the root enters (environment, .env or --root), and nowhere after: an
        # absolute local path (subprocesses may run elsewhere), a URI without its last slash.
        from mlcycle import storage

        return storage.normalize(root)


class ApiSettings(Settings):
    """The prediction API's settings (`mlcycle serve`): the project's plus these."""

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
    host: str | None = Field(
        None,
        description="Interface the API binds (default 127.0.0.1, or 0.0.0.0 when PORT or "
        "AIP_HTTP_PORT is set); --host wins.",
    )
    prediction_log: bool = Field(
        True,
        description="Record every prediction (features, probabilities, label) under "
        "<root>/predictions/ as Parquet, for feedback and drift; false: record nothing.",
    )
    prediction_log_sample: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Fraction of prediction requests recorded (a batch is recorded whole or "
        "not at all).",
    )
    prediction_log_flush_seconds: float = Field(
        5.0, gt=0, description="The log's memory is written out at least this often."
    )
    prediction_log_flush_rows: int = Field(
        10_000,
        ge=1,
        description="The log is also written as soon as this many rows wait in memory.",
    )
    prediction_log_queue_rows: int = Field(
        200_000,
        ge=1,
        description="Most rows the log holds in memory; requests beyond it are answered but "
        "not recorded (counted in /metrics as dropped).",
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


class UiSettings(_MlcycleSettings):
    """The web UI's settings (`mlcycle ui`); it knows the API only by its URL."""

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

    @field_validator("ui_secret_key")
    @classmethod
    def _empty_is_unset(cls, key: SecretStr | None) -> SecretStr | None:
        return key if key is not None and key.get_secret_value() else None


class Platform(BaseSettings):
    """Variables the platform sets, under their own names. Read from the environment only,
    not `.env`: a PORT there would move the API and the UI alike onto one public port."""

    # An empty variable counts as unset, as a shell's `PORT=` means.
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    port: int | None = Field(
        None, description="Cloud Run: the port to listen on, on every interface."
    )
    aip_http_port: int | None = Field(
        None, description="Vertex AI: the API's port, on every interface (wins over PORT)."
    )
    aip_health_route: str | None = Field(
        None, description="Vertex AI: an extra readiness route the API answers."
    )
    aip_predict_route: str | None = Field(
        None,
        description="Vertex AI: an extra prediction route (instances in, predictions out).",
    )
    aip_storage_uri: str | None = Field(
        None, description="Vertex AI: taken as the API's registry root (wins over MLCYCLE_ROOT)."
    )
    web_concurrency: int = Field(2, ge=1, description="gunicorn workers serving the UI.")
    storage_emulator_host: str | None = Field(
        None,
        description="A GCS emulator's URL: gs:// then goes there without credentials.",
    )


SECTIONS: tuple[type[BaseSettings], ...] = (Settings, ApiSettings, UiSettings, Platform)


def env_names(section: type[BaseSettings]) -> list[str]:
    """The environment variables a settings class reads, as a user writes them."""
    prefix = section.model_config.get("env_prefix") or ""
    return [(prefix + name).upper() for name in section.model_fields]


def describe_error(exc: ValidationError) -> str | None:
    """A settings class's ValidationError as one line naming each variable, its value (never
    a secret's) and what is wrong; None when the error is not a settings class's."""
    section = {s.__name__: s for s in SECTIONS}.get(exc.title)
    if section is None:
        return None
    prefix = section.model_config.get("env_prefix") or ""
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = (prefix + field).upper() if field else section.__name__
        message = error["msg"].removeprefix("Value error, ")
        info = section.model_fields.get(field)
        secret = info is not None and SecretStr in (info.annotation, *get_args(info.annotation))
        shown = name if secret else f"{name}={error['input']!r}"
        parts.append(message if message.startswith(name) else f"{shown}: {message}")
    dotenv = section.model_config.get("env_file")
    source = "the environment or .env" if dotenv else "the environment"
    return f"{'; '.join(parts)} (from {source})"


def _given(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in overrides.items() if v is not None}


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides on top."""
    return Settings(**_given(overrides))


def get_api_settings(**overrides: object) -> ApiSettings:
    """The API's settings from the environment, with explicit (non-None) overrides on top."""
    return ApiSettings(**_given(overrides))


def get_ui_settings(**overrides: object) -> UiSettings:
    """The UI's settings from the environment, with explicit (non-None) overrides on top."""
    return UiSettings(**_given(overrides))


def get_platform() -> Platform:
    """The platform's variables, as the process environment has them now."""
    return Platform()
