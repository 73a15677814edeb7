"""What every command shares: the common options, exit codes and error handling."""

from __future__ import annotations

import functools
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from mlcycle.cli.render import err
from mlcycle.settings import get_settings

RootOption = Annotated[
    str | None,
    typer.Option(
        "--root",
        help="Data, pipeline and registry root: a folder or gs://bucket/prefix "
        "(env MLCYCLE_ROOT; default ./.mlcycle).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Data-set config YAML, relative to the current folder (env MLCYCLE_CONFIG; "
        "default: the breast-cancer config shipped in the package).",
        show_default=False,
    ),
]

EXIT_REJECTED = 2
EXIT_INTERRUPTED = 130  # as shells report a Ctrl-C
EXIT_LOST = 3  # another run changed the champion meanwhile: this one was not promoted
EXIT_DRIFT = 4  # `mlcycle monitor`: a feature drifted past the config's psi_alert


def fail(message: str, code: int = 1) -> typer.Exit:
    # soft_wrap: an error names files and commands to copy; rich must not break them at the
    # console's width (80 columns when the output is not a terminal).
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def registry_errors(command: Any) -> Any:
    """A broken registry (a malformed champion pointer, a model failing its sha256 check)
    is reported as the one-line error RegistryError carries, never as a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mlcycle.model.registry import RegistryError

        try:
            return command(*args, **kwargs)
        except RegistryError as exc:
            raise fail(escape(str(exc))) from None

    return wrapper


def interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, so long-running commands clean up.

    SIGINT is set explicitly: a shell starts background jobs with it ignored, and Python then
    installs no handler of its own. SIGTERM is what `docker stop` and supervisors send.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def dataset_config(path: Path | None) -> Any:
    """The data-set config at `path` (default: the settings'), or a one-line error."""
    from mlcycle.config import ConfigError, load_config  # not at import: `serve` never needs it

    settings = get_settings(config=path)
    try:
        return load_config(settings.config)
    except ConfigError as exc:
        raise fail(str(exc)) from None
