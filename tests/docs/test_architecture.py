"""docs/architecture.md's map of the code is the first thing a newcomer reads: it must name
every module there is, and only those."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "mlcycle"
# Re-exports and entry points: nothing to find there (cli/__init__.py builds the app: listed).
UNLISTED = {"api/settings.py", "ui/settings.py"}


def mapped_modules() -> set[str]:
    text = (REPO / "docs" / "architecture.md").read_text()
    block = text[text.index("```\nsrc/mlcycle/") :].split("```")[1]
    modules, package = set(), ""
    for line in block.splitlines()[2:]:
        if match := re.match(r"  (\w+/)?\s*(\w+\.py)\s", line):
            if not line.startswith("          "):  # a new top-level entry or package
                package = match.group(1) or ""
            modules.add(package + match.group(2))
    return modules


def test_the_map_names_every_module_and_only_those() -> None:
    present = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") or p.parent.name == "cli"
    } - {"cli/__main__.py"}
    listed = mapped_modules()
    assert sorted(present - UNLISTED - listed) == [], "modules the map does not name"
    assert sorted(listed - present) == [], "the map names modules that do not exist"
