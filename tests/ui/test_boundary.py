"""The UI is a client: it reaches the API over HTTP only, through one module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mlcycle.ui

UI = Path(mlcycle.ui.__file__).parent
CORE_AND_API = ("mlcycle.model", "mlcycle.api", "mlcycle.data", "mlcycle.pipeline")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_loading_the_ui_loads_no_model_registry_or_api_code() -> None:
    code = (
        "import sys, mlcycle.ui, mlcycle.ui.server; mlcycle.ui.create_app();"
        f"print([m for m in sys.modules if m.startswith({CORE_AND_API!r})])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_only_api_client_speaks_http() -> None:
    talkers = sorted(
        p.name
        for p in UI.glob("*.py")
        if {"httpx", "requests", "urllib.request", "http.client"} & imported_modules(p)
    )
    assert talkers == ["api_client.py"]
