"""Helpers for the fault tests: small real model versions and an in-process CLI."""

from __future__ import annotations

import io
from typing import Any

import joblib
from sklearn.dummy import DummyClassifier
from typer.testing import CliRunner

from mlcycle import cli

META = {
    "metrics": {"roc_auc": 0.5, "recall": 0.5},
    "gate": {"decision": "rejected", "promote": False, "reasons": []},
    "lineage": {"data_hash": "0" * 64},
    "model": {"candidate": "dummy"},
    "schema": {"label": "y", "classes": ["0", "1"], "features": [{"name": "x", "type": "numeric"}]},
}


def model_bytes(strategy: str = "prior") -> bytes:
    out = io.BytesIO()
    joblib.dump(DummyClassifier(strategy=strategy).fit([[0], [1]], ["a", "b"]), out)
    return out.getvalue()


def invoke(*args: str) -> tuple[int, str]:
    """Run the CLI in this process; (exit code, stdout and stderr)."""
    out = CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "200"})
    if out.exception and not isinstance(out.exception, SystemExit):
        raise out.exception
    return out.exit_code, out.output


def as_text(out: Any) -> str:
    return " ".join(str(out).split())  # rich wraps long lines; compare with single spaces
