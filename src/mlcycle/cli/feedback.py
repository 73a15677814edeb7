"""`mlcycle feedback export`: the ground truth the API received, as training data."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from mlcycle.cli.options import ConfigOption, RootOption, dataset_config, fail, registry_errors
from mlcycle.cli.render import console
from mlcycle.settings import get_settings

app = typer.Typer(
    help="Ground truth sent to the API (POST /v1/feedback) for logged predictions.",
    no_args_is_help=True,
)


@app.command("export")
@registry_errors
def feedback_export(
    root: RootOption = None,
    config: ConfigOption = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Only predictions this version made (default: every version's).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the predictions that have ground truth (their logged features and the true label,
    in the config's column names) as a new file in ROOT/data/incoming/, so the next run (or
    `mlcycle watch`) retrains on them; validation checks it like any upload.

    The columns are the champion's features (without a champion: every logged one) and the
    config's label. Each export holds all the feedback so far: rows exported before come
    again, and clean drops them as duplicates (unless the config says `deduplicate: none`).
    Exits 1 when there is nothing to export.
    """
    from mlcycle import feedback
    from mlcycle.model.registry import Registry

    settings = get_settings(root=root)
    label = dataset_config(config).label
    champion = Registry(settings.root).champion()
    features = champion.feature_schema.feature_names() if champion else None
    uri, rows = feedback.export(settings.root, label, features, version)
    if uri is None:
        which = f" for version {version}" if version else ""
        raise fail(
            f"no feedback{which} with a logged prediction under {settings.root}: send ground "
            "truth to the API's POST /v1/feedback first"
        )
    console.print(f"exported {rows} labelled prediction(s) to {escape(uri)}")
