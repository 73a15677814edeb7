"""Serving the UI with gunicorn (a production WSGI server), for `mlcycle ui` and Cloud Run."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

from mlcycle.ui.settings import DEFAULT_PORT

LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Bind:
    host: str
    port: int


def resolve_bind(env: Mapping[str, str], host: str | None, port: int | None) -> Bind:
    """Explicit options win, then Cloud Run's PORT (which also means: listen on every
    interface), then 127.0.0.1:8081."""
    platform_port = env.get("PORT")
    return Bind(
        host=host or ("0.0.0.0" if platform_port else LOCAL_HOST),
        port=port or int(platform_port or DEFAULT_PORT),
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


def run_ui(bind: Bind, api_url: str | None = None, workers: int | None = None) -> None:
    """Serve until stopped. Workers: WEB_CONCURRENCY or 2, each with 4 threads (pages wait
    on the API, so threads are cheap concurrency)."""
    app_config: dict[str, Any] = {}
    if api_url:
        app_config["API_URL"] = api_url
    if not os.environ.get("MLCYCLE_UI_SECRET_KEY"):
        # One key for all workers, or a CSRF token made by one would fail in another.
        app_config["SECRET_KEY"] = secrets.token_hex(32)
    options = {
        "bind": f"[{bind.host}]:{bind.port}" if ":" in bind.host else f"{bind.host}:{bind.port}",
        "workers": workers or int(os.environ.get("WEB_CONCURRENCY", "2")),
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn >= 25 opens a control socket under $HOME by default: not wanted here.
        "control_socket_disable": True,
    }
    _Gunicorn(options, app_config).run()
