"""The model report: one self-contained HTML page per registered version.

Everything a reviewer needs to judge a run without reading logs: the data, what validation
and cleaning said, the candidates' cross-validation scores, test metrics and plots, the
champion comparison, the gate's decision and the lineage. Images are embedded as data URIs,
so the page works offline and inside Vertex AI's console (a KFP HTML artifact).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape

from mlcycle.model.metrics import AT_ARGMAX, DESCRIPTIONS, LOWER_IS_BETTER, NAMES

if TYPE_CHECKING:
    from mlcycle.model.version import ModelVersion

IMAGES = ("roc_curve.png", "confusion_matrix.png", "calibration_curve.png")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mlcycle.model", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v, digits=4: "" if v is None else f"{v:.{digits}f}"
    return env


def render_report(metadata: ModelVersion, images: dict[str, bytes]) -> str:
    """The report of a version from its record and its PNG plots."""
    champion = metadata.champion_at_evaluation
    rows = []
    for name in NAMES:
        mine = metadata.metrics.get(name)
        if mine is None:  # binary-only metrics of a multi-class model, newer metrics of older
            continue
        theirs = champion.metrics.get(name) if champion else None
        delta = None if theirs is None else mine - theirs
        better = None if delta is None or delta == 0 else (delta < 0) == (name in LOWER_IS_BETTER)
        rows.append(
            {
                "name": name,
                "challenger": mine,
                "champion": theirs,
                "delta": delta,
                "better": better,
                "description": DESCRIPTIONS.get(name, ""),
            }
        )
    # The operating point's figures beside the same figures at argmax (binary versions).
    operating_rows = [
        {
            "name": name,
            "at_point": metadata.metrics.get(name),
            "at_argmax": metadata.metrics.get(f"{name}_argmax"),
        }
        for name in AT_ARGMAX
        if f"{name}_argmax" in metadata.metrics
    ]
    embedded = {
        name: "data:image/png;base64," + base64.b64encode(data).decode()
        for name, data in images.items()
    }
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            m=metadata,
            champion=champion or {},
            metric_rows=rows,
            point=metadata.operating_point,
            operating_rows=operating_rows,
            images=embedded,
            data=metadata.data,
        )
    )
