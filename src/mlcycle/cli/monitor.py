"""`mlcycle monitor`: recent predictions against the champion's training data (drift)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mlcycle.cli.options import (
    EXIT_DRIFT,
    ConfigOption,
    RootOption,
    dataset_config,
    fail,
    registry_errors,
)
from mlcycle.cli.render import console
from mlcycle.settings import get_settings

STYLES = {"ok": "green", "warn": "yellow", "alert": "bold red", "too_few_rows": "dim"}


@registry_errors
def monitor(
    root: RootOption = None,
    config: ConfigOption = None,
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="Compare the predictions logged in this last stretch of time: a number and "
            "m, h, d or w (e.g. 30m, 24h, 7d).",
        ),
    ] = "24h",
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="The version whose training data is the reference (default: the champion).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Exit 4 only for an alert no earlier --once run (nor `watch --on-drift`) "
            "acted on, and record this one: a scheduler that retrains on exit 4 then "
            "retrains once per report.",
        ),
    ] = False,
) -> None:
    """Compare the features of recently logged predictions with the training data of the
    champion (or --version), feature by feature; write a drift report.

    The measure is the population stability index over training's bins and categories, with
    the thresholds of the config's `drift` section (psi_warn, psi_alert); a PSI must also
    pass what sampling alone gives for that many rows, and with fewer than `min_rows` logged
    rows there is no verdict. The report (HTML with a plot per feature, and JSON) goes to
    ROOT/monitoring/drift/; the API serves the latest at /v1/model/drift.

    Exits 0 when no feature passed psi_alert (also with too few rows), 4 when one did (drift:
    retrain), 1 when it cannot measure (no champion, a version registered without reference
    statistics, a bad --since).
    """
    from mlcycle import monitor as monitoring

    settings = get_settings(root=root, config=config)
    thresholds = dataset_config(settings.config).drift
    try:
        window = monitoring.parse_duration(since)
        report = monitoring.measure(settings.root, thresholds, window, version)
    except monitoring.MonitorError as exc:
        raise fail(escape(str(exc))) from None
    written = monitoring.write(settings.root, report)
    alert = report.alert and (not once or monitoring.claim_retrain(settings.root, report))
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        style = STYLES[report.status]
        console.print(
            f"[{style}]{report.status.replace('_', ' ')}[/]  {escape(report.message)}",
            soft_wrap=True,
        )
        flagged = [f for f in report.features if f.status in ("alert", "warn")]
        if flagged:
            table = Table("feature", "status", "PSI", "shift (std)", box=None)
            for f in sorted(flagged, key=lambda f: -(f.psi or 0.0)):
                shift = "" if f.shift_std is None else f"{f.shift_std:.2f}"
                table.add_row(f.name, f"[{STYLES[f.status]}]{f.status}[/]", f"{f.psi:.3f}", shift)
            console.print(table)
        console.print(
            f"{report.rows} rows since {report.since} against version {report.version}'s "
            f"training data; report: {written.html_uri}",
            soft_wrap=True,
        )
        if report.alert and not alert:
            console.print("already acted on (--once): exit 0")
    if alert:
        raise typer.Exit(EXIT_DRIFT)
