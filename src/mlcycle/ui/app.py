"""The UI's app factory: settings, the API client, CSRF, the pages and the error pages."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from mlcycle.ui import errors, views
from mlcycle.ui.api_client import ApiClient
from mlcycle.ui.display import display_of
from mlcycle.ui.settings import get_ui_settings

log = logging.getLogger("mlcycle.ui")

# No script runs on these pages; bars are SVG attributes, not inline styles.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
FORM_OVERHEAD = 64 * 1024  # the multipart envelope and the CSRF token around an upload


HSTS = "max-age=31536000; includeSubDomains"


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:  # over plain HTTP a browser ignores HSTS, and a local UI has none
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the page came over HTTPS (SESSION_COOKIE_SECURE
    would also set it on a local http:// UI, where the browser would then drop it)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure


ACRONYMS = {"roc", "auc", "pr"}


def plot_title(filename: str) -> str:
    """`roc_curve.png` → "ROC curve"."""
    words = filename.rsplit(".", 1)[0].replace("_", " ").split()
    text = " ".join(w.upper() if w.lower() in ACRONYMS else w for w in words)
    return text[:1].upper() + text[1:]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The UI for the API at MLCYCLE_API_URL; `test_config` overrides any config key."""
    app = Flask(__name__)
    settings = get_ui_settings()
    app.config.from_mapping(
        # Flask turns debug on from FLASK_DEBUG; the UI never runs with it (tracebacks leak).
        DEBUG=False,
        API_URL=settings.api_url,
        API_TIMEOUT=settings.api_timeout,
        MAX_UPLOAD_BYTES=settings.ui_max_upload_bytes,
        MAX_ROWS=settings.ui_max_rows,
        SECRET_KEY=settings.ui_secret_key.get_secret_value() if settings.ui_secret_key else None,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.update(test_config)
    # Bodies far over the cap are cut off unread (413); smaller excess gets the same message
    # from the view, which reads at most cap + 1 bytes of the file.
    app.config.setdefault("MAX_CONTENT_LENGTH", None)
    if app.config["MAX_CONTENT_LENGTH"] is None:
        app.config["MAX_CONTENT_LENGTH"] = 2 * app.config["MAX_UPLOAD_BYTES"] + FORM_OVERHEAD
    if not app.config["SECRET_KEY"]:
        # Fine for one process; several workers or instances need one shared key.
        log.warning("MLCYCLE_UI_SECRET_KEY is not set: using a random key for this process")
        app.config["SECRET_KEY"] = secrets.token_hex(32)

    if settings.ui_proxy_hops:  # the scheme and client the proxy saw, e.g. https
        hops = settings.ui_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.session_interface = _SessionInterface()
    client = ApiClient(app.config["API_URL"], app.config["API_TIMEOUT"])
    app.extensions["mlcycle.api"] = client
    CSRFProtect(app)
    app.register_blueprint(views.bp)
    errors.register(app)
    app.after_request(_security_headers)
    app.jinja_env.filters["plot_title"] = plot_title
    # Views with a schema pass their own `display`; the rest use the last schema seen.
    app.context_processor(lambda: {"display": display_of(client.last_schema)})
    return app
