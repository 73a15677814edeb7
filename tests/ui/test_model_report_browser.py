"""The model report in Chromium: its tables read correctly on screen, not only in the HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcycle.model.registry import Registry
from mlcycle.model.report import render_report
from mlcycle.model.version import ChampionScore

CHAMPION = {
    "version": "20250101-000000-old000",
    "metrics": {
        "roc_auc": 0.5,
        "accuracy": 0.5,
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "brier": 0.25,
    },
}
# Each cell's text box and its header's text box, horizontally, as rendered.
TEXT_BOXES = """table => {
  const box = el => { const r = document.createRange(); r.selectNodeContents(el);
                      const b = r.getBoundingClientRect(); return [b.left, b.right]; };
  const heads = [...table.querySelectorAll("tr:first-child th")];
  return [...table.querySelectorAll("tr")].slice(1).map(tr =>
    [...tr.children].map((td, i) => ({header: heads[i].innerText, text: td.innerText,
                                      head: box(heads[i]), cell: box(td)})));
}"""


def test_metric_values_sit_under_their_own_headers(page: Any, served_root: Path) -> None:
    registry = Registry(str(served_root))
    meta = registry.get(registry.champion_version())
    meta = meta.model_copy(update={"champion_at_evaluation": ChampionScore(**CHAMPION)})
    page.set_content(render_report(meta, {}))
    table = page.locator("h2:has-text('Test metrics') + p + table")
    rows = table.evaluate(TEXT_BOXES)
    assert rows, "no metric rows"
    for row in rows:
        by_header = {c["header"]: c["text"] for c in row}
        name = by_header["metric"]
        assert by_header["challenger"] == f"{meta.metrics[name]:.4f}"
        # A champion registered before a metric existed shows nothing for it.
        theirs = CHAMPION["metrics"].get(name)
        assert by_header["champion"] == ("" if theirs is None else f"{theirs:.4f}")
        for cell in row:
            (h_left, h_right), (c_left, c_right) = cell["head"], cell["cell"]
            if cell["text"]:  # the value's text overlaps its own header's text, on screen
                assert c_left < h_right and h_left < c_right, (name, cell)
