"""The model commands: `run` the training pipeline, list `models`, a version's `report`.

Moving the champion (`champion`, `promote`, `rollback`) is cli/champion.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mlcycle.cli.options import (
    ConfigOption,
    RootOption,
    dataset_config,
    fail,
    registry_errors,
)
from mlcycle.cli.render import console, models_table
from mlcycle.cli.training import train
from mlcycle.settings import get_settings

# -- run ------------------------------------------------------------------------------------


@registry_errors
def run(
    root: RootOption = None,
    config: ConfigOption = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print kfp.local's full log.")
    ] = False,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="Run every step in this pipeline image (Dockerfile target `pipeline`), "
            "through the Docker API at DOCKER_HOST, as Vertex AI runs them.",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            help="With --image: run the steps as UID:GID (default: the image's user).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the training pipeline locally (kfp.local, cached) and summarise the outcome.

    Exits 0 when the pipeline finished, promoted or not; 2 when the data was rejected (the
    report says why); 3 when another run changed the champion meanwhile, so this one was not
    promoted (run again to compare with the new champion); 130 when stopped by Ctrl-C or
    SIGTERM (its steps are ended with it); 1 on any other failure.
    """
    from mlcycle.pipeline.local import Containers

    if user and not image:
        raise fail("--user needs --image: without it the steps run as you")
    settings = get_settings(root=root, config=config)
    train(
        settings,
        dataset_config(settings.config),
        verbose=verbose,
        containers=Containers(image, user) if image else None,
    )


# -- models ---------------------------------------------------------------------------------


def model_rows(root: str) -> list[dict[str, Any]]:
    """Every version, as `mlcycle models --json` prints them."""
    from mlcycle.model.registry import Registry

    registry = Registry(root)
    champion = registry.champion_version()
    return [
        {
            "version": m.version,
            "is_champion": m.version == champion,
            "created_at": m.created_at,
            "candidate": m.model.candidate,
            "data_hash": m.lineage.data_hash,
            "gate": m.gate.to_json(),
            "metrics": m.metrics,
        }
        for m in registry.versions()
    ]


@registry_errors
def models(
    root: RootOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every registered model version; the champion is marked."""
    rows = model_rows(get_settings(root=root).root)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no models yet: run `mlcycle run`")
        return
    console.print(models_table(rows))


# -- report ---------------------------------------------------------------------------------


@registry_errors
def report(
    root: RootOption = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="A version id (default: the champion).", show_default=False),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the report in the web browser.")
    ] = False,
) -> None:
    """Print the path of a version's HTML model report (copied locally from a bucket)."""
    import tempfile
    import webbrowser

    from mlcycle import storage
    from mlcycle.model.registry import REPORT_FILE, Registry, RegistryError

    registry = Registry.from_settings(get_settings(root=root))
    version = version or registry.champion_version()
    if version is None:
        raise fail("no champion yet: run `mlcycle run` or name a --version")
    try:
        meta = registry.get(version)
    except RegistryError as exc:
        raise fail(str(exc)) from None
    if not meta.has(REPORT_FILE):
        raise fail(f"version {version} has no report")
    path = storage.local_path(
        registry.version_uri(version, REPORT_FILE),
        Path(tempfile.gettempdir()) / f"mlcycle-report-{version}.html",
    )
    print(path)
    if open_browser:
        webbrowser.open(path.as_uri())
