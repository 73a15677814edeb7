"""Where and how to serve, from the CLI's options and the platform's variables.

Cloud Run sets PORT; a Vertex AI endpoint sets AIP_HTTP_PORT, AIP_HEALTH_ROUTE,
AIP_PREDICT_ROUTE and AIP_STORAGE_URI. Both route traffic to the container's public interface,
so when either platform's port variable is set the default host becomes 0.0.0.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT = 8080
LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Serving:
    root: str
    host: str
    port: int
    health_route: str | None  # an extra readiness route (AIP_HEALTH_ROUTE)
    predict_route: str | None  # an extra prediction route (AIP_PREDICT_ROUTE)


def _route(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.startswith("/") else f"/{value}"


def resolve_serving(
    env: Mapping[str, str],
    settings_root: str,
    root: str | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Serving:
    """Explicit options win; then Vertex AI's variables, then Cloud Run's, then the defaults.

    AIP_STORAGE_URI is taken as the registry root: the model is still the one its champion
    pointer names, verified as always.
    """
    platform_port = env.get("AIP_HTTP_PORT") or env.get("PORT")
    return Serving(
        root=root or env.get("AIP_STORAGE_URI") or settings_root,
        host=host or env.get("MLCYCLE_HOST") or ("0.0.0.0" if platform_port else LOCAL_HOST),
        port=port or int(platform_port or DEFAULT_PORT),
        health_route=_route(env.get("AIP_HEALTH_ROUTE")),
        predict_route=_route(env.get("AIP_PREDICT_ROUTE")),
    )
