"""Serving the UI with gunicorn (a production WSGI server), for `mlcycle ui` and Cloud Run."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

from mlcycle.settings import Platform, UiSettings, get_platform, get_ui_settings

DEFAULT_PORT = 8081
LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Bind:
    host: str
    port: int


def resolve_bind(platform: Platform, host: str | None, port: int | None) -> Bind:
    """Explicit options win, then Cloud Run's PORT (which also means: listen on every
    interface), then 127.0.0.1:8081."""
    return Bind(
        host=host or ("0.0.0.0" if platform.port else LOCAL_HOST),
        port=port or platform.port or DEFAULT_PORT,
    )


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], app_config: dict[str, Any]) -> None:
        self.options, self.app_config = options, app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from mlcycle.ui.app import create_app

        return create_app(self.app_config)  # in each worker, after the fork


def app_config(settings: UiSettings, api_url: str | None = None) -> dict[str, Any]:
    """What each worker's app gets on top of the settings it reads itself."""
    config: dict[str, Any] = {}
    if api_url:
        config["API_URL"] = api_url
    if settings.ui_secret_key is None:
        # One key for all workers, or a CSRF token made by one would fail in another.
        config["SECRET_KEY"] = secrets.token_hex(32)
    return config


def run_ui(bind: Bind, api_url: str | None = None, workers: int | None = None) -> None:
    """Serve until stopped. Workers: WEB_CONCURRENCY or 2, each with 4 threads (pages wait
    on the API, so threads are cheap concurrency)."""
    options = {
        "bind": f"[{bind.host}]:{bind.port}" if ":" in bind.host else f"{bind.host}:{bind.port}",
        "workers": workers or get_platform().web_concurrency,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn >= 25 opens a control socket under $HOME by default: not wanted here.
        "control_socket_disable": True,
    }
    _Gunicorn(options, app_config(get_ui_settings(), api_url)).run()
