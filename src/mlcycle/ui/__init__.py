"""The prediction UI: a Flask client of the prediction API. It reaches the API only over HTTP
(api_client.py) and imports nothing of the model, the registry or the API."""

from mlcycle.ui.app import create_app

__all__ = ["create_app"]
