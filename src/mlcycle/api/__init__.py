"""The prediction API: FastAPI app factory, request checks built from the feature schema, the
model holder (load, verify, hot swap) and Prometheus metrics. Imports the core, never the UI."""

from mlcycle.api.app import create_app

__all__ = ["create_app"]
