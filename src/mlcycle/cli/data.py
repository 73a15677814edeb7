"""`mlcycle data add/list/rm`: the files in ROOT/data/incoming/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from mlcycle.cli.options import RootOption, fail
from mlcycle.cli.render import console, files_table
from mlcycle.settings import get_settings

app = typer.Typer(help="Manage the data in ROOT/data/incoming/.", no_args_is_help=True)


def _incoming(root: str | None) -> str:
    """The incoming folder of the root the options and environment name."""
    from mlcycle.data.incoming import incoming_uri

    return incoming_uri(get_settings(root=root).root)


@app.command("add")
def data_add(
    file: Annotated[Path, typer.Argument(help="A .csv or .parquet file.")], root: RootOption = None
) -> None:
    """Copy a data file into the incoming folder; the next run (or `mlcycle watch`) trains on it."""
    from mlcycle.data.incoming import AlreadyIncomingError, IncomingError, add_file

    try:
        target = add_file(get_settings(root=root).root, file)
    except AlreadyIncomingError as exc:  # what was asked for holds: the data is there
        console.print(str(exc))
        return
    except IncomingError as exc:
        raise fail(str(exc)) from None
    console.print(f"added {file} as {target}")


@app.command("list")
def data_list(root: RootOption = None) -> None:
    """List the files in the incoming folder."""
    from mlcycle import storage

    files = storage.list_files(_incoming(root))
    if not files:
        console.print(f"no files in {_incoming(root)}")
        return
    console.print(files_table(files))


@app.command("rm")
def data_rm(
    name: Annotated[
        str | None,
        typer.Argument(help="One file name as `data list` shows it.", show_default=False),
    ] = None,
    remove_all: Annotated[
        bool, typer.Option("--all", help="Remove every file in the incoming folder.")
    ] = False,
    root: RootOption = None,
) -> None:
    """Remove one file from the incoming folder (for example one a run rejected).

    NAME is a plain file name: no folders, no `..`. Removing several takes `--all`.
    """
    from mlcycle import storage
    from mlcycle.data.incoming import name_problem

    incoming = _incoming(root)
    files = {info.name: info for info in storage.list_files(incoming)}
    if remove_all:
        if name is not None:
            raise fail(f"give either a NAME or --all, not both (got {name!r} and --all)")
        if not files:
            raise fail(f"no files in {incoming}: nothing to remove")
        for info in files.values():
            storage.remove_file(info.uri)
            console.print(Text(f"removed {info.uri}"))
        return
    if name is None:
        raise fail("name the file to remove (see `mlcycle data list`), or pass --all")
    problem = name_problem(name)
    if problem:
        raise fail(f"{problem}; name one file as `mlcycle data list` shows it")
    info = files.get(name)
    if info is None:
        known = ", ".join(sorted(files)) or "none"
        raise fail(f"no incoming file named {name!r} in {incoming} (files there: {known})")
    storage.remove_file(info.uri)
    console.print(Text(f"removed {info.uri}"))
