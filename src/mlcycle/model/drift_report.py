"""The drift report as one self-contained HTML page: the verdict, a table of every feature's
PSI and shift, and a plot per feature (PNG data URIs, inline style, no script), like the
model report (model/report.py)."""

from __future__ import annotations

import base64

from mlcycle.model.drift import DriftReport
from mlcycle.model.report import _environment

ORDER = {"alert": 0, "warn": 1, "ok": 2, "not_measured": 3}


def render_drift_report(report: DriftReport) -> str:
    """The page of `report`, its features worst first."""
    from mlcycle.model.plots import drift_png  # matplotlib: only when a page is drawn

    features = sorted(report.features, key=lambda f: (ORDER[f.status], -(f.psi or 0.0)))
    plots = {
        f.name: "data:image/png;base64," + base64.b64encode(drift_png(f)).decode()
        for f in features
        if f.buckets
    }
    return (
        _environment()
        .get_template("drift.html.j2")
        .render(r=report, features=features, plots=plots)
    )
