"""The model page says how the champion got there: its newest move, and the last few."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlcycle.model.champion import Mover
from mlcycle.model.registry import Registry

from .conftest import api_server, make_app
from .html import parse


def test_the_model_page_shows_the_champion_s_moves(served_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(served_root / "models", root / "models")
    registry = Registry(str(root))
    champion = registry.champion()
    reason = "checked by hand <script>alert(1)</script>"
    registry.promote(
        champion.version,
        [reason],
        expected=champion.version,
        kind="promote",
        by=Mover(tool="cli", user="alice", host="lab"),
    )
    with api_server(root) as api:
        page = make_app(api.url).test_client().get("/model")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html  # reasons are the registry's text, escaped
    doc = parse(html)
    move = doc.find("p", data_testid="champion-move").text()
    assert move.startswith("promote at ") and "by cli (alice@lab)" in move, move
    assert f"replacing {champion.version}" in move
    rows = doc.find("table", data_testid="champion-moves").find("tbody").find_all("tr")
    cells = [[td.text() for td in row.find_all("td")] for row in rows]
    assert [c[1] for c in cells] == ["promote", "pipeline"]
    assert cells[0][4] == "cli (alice@lab)" and cells[0][5] == reason
    run = champion.lineage.pipeline_run
    assert run and cells[1][4].startswith(f"pipeline run {run}")
    assert cells[1][3] == "—"  # the first champion replaced none
