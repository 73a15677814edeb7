"""The champion commands: show the `champion` and its history, `promote` a version, `rollback`.

Each move is a compare-and-swap on the champion the command read first: of two moves at once
one wins, the other exits 3 (EXIT_LOST) saying who won. Every move is recorded in the
registry's history with the reasons given and the user who ran it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mlcycle.cli.options import EXIT_LOST, RootOption, fail, registry_errors
from mlcycle.cli.render import champion_table, console, err
from mlcycle.settings import get_settings

if TYPE_CHECKING:
    from mlcycle.model.champion import ChampionPointer, MoveKind, Mover
    from mlcycle.model.registry import Registry

ReasonOption = Annotated[
    list[str] | None,
    typer.Option(
        "--reason",
        help="Why (recorded in the champion's history; repeat for several reasons).",
        show_default=False,
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Move even when the version's features, their types or its classes differ from "
        "the current champion's (clients sending the old features would then be refused).",
    ),
]


def cli_mover() -> Mover:
    """This command, as the history records it: cli, the user name and the host."""
    import getpass
    import socket

    from mlcycle.model.champion import Mover

    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):  # a container's uid with no name
        user = None
    return Mover(tool="cli", user=user, host=socket.gethostname())


def _current(registry: Registry) -> tuple[ChampionPointer | None, bool]:
    """The champion pointer, and whether it is readable (an unreadable one is repaired)."""
    from mlcycle.model.registry import RegistryError

    try:
        return registry.champion_pointer(), True
    except RegistryError as exc:
        err.print(f"[yellow]warning:[/] {escape(str(exc).split(';')[0])}: replacing it")
        return None, False


def _move(
    registry: Registry,
    version: str,
    kind: MoveKind,
    reasons: list[str],
    force: bool,
    current: ChampionPointer | None,
    readable: bool = True,
) -> None:
    """Check `version` (its model's sha256, its schema against the champion's), then move the
    champion to it if the champion is still `current`."""
    from mlcycle.model.champion import schema_changes
    from mlcycle.model.registry import UNCHECKED, ChampionChangedError, RegistryError

    meta = registry.get(version)
    registry.model_bytes(version, meta)  # a corrupt model is never promoted
    if current and current.version == version and current.sha256 == meta.model.sha256:
        console.print(f"{version} is already the champion: nothing changed")
        return
    try:
        champion = registry.get(current.version) if current else None
    except RegistryError:  # the pointer names a version that is gone: this is the repair
        champion = None
    changes = schema_changes(champion.feature_schema, meta.feature_schema) if champion else []
    if changes and not force:
        listed = "; ".join(changes)
        raise fail(
            f"{version}'s inputs differ from the champion {current.version}'s: {listed}. "
            "Clients sending the champion's features would be refused; pass --force to move "
            "anyway"
        )
    if changes:
        err.print(f"[yellow]warning:[/] inputs change ({escape('; '.join(changes))}): forced")
        reasons = [*reasons, f"forced despite changed inputs: {'; '.join(changes)}"]
    if not readable or (current and champion is None):
        kind, expected = "repair", UNCHECKED
    else:
        expected = current.version if current else None
    try:
        pointer = registry.promote(version, reasons, expected=expected, kind=kind, by=cli_mover())
    except ChampionChangedError as exc:
        raise fail(
            f"not moved: {exc.current or '(none)'} became the champion while this command ran "
            f"(it expected {exc.expected or '(none)'}): another move won. Nothing changed; see "
            "`mlcycle champion`, then run again if still wanted",
            EXIT_LOST,
        ) from None
    was = pointer.previous or "(none)"
    console.print(f"champion: [bold]{version}[/] (was {was}; {pointer.move.kind})")
    console.print("a running API swaps it in on its next look (or POST /v1/model/reload)")


@registry_errors
def champion(
    root: RootOption = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many moves, newest first.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the champion and how it got there: every move of it, newest first (when, the kind
    of move, from which version, by whom, why)."""
    from mlcycle.model.registry import Registry

    registry = Registry.from_settings(get_settings(root=root))
    pointer = registry.champion_pointer()
    moves, problem = registry.history(limit, pointer.move) if pointer else ([], None)
    if as_json:
        out = {
            "champion": pointer.to_json() if pointer else None,
            "history": [m.to_json() for m in moves],
            "problem": problem,
        }
        print(json.dumps(out, indent=2))
        return
    if pointer is None:
        console.print("no champion yet: run `mlcycle run`, or `mlcycle promote VERSION`")
        return
    console.print(
        f"champion: [bold]{pointer.version}[/] (model sha256 {pointer.sha256})", soft_wrap=True
    )
    if not moves:
        console.print("no history recorded: it was made champion before mlcycle kept one")
    else:
        console.print(champion_table(moves))
    if problem:
        err.print(f"[yellow]warning:[/] {escape(problem)}: older moves cannot be shown")


@registry_errors
def promote(
    version: Annotated[
        str, typer.Argument(help="A registered version id, as `mlcycle models` lists it.")
    ],
    reason: ReasonOption = None,
    force: ForceOption = False,
    root: RootOption = None,
) -> None:
    """Make VERSION the champion, or repair a broken champion pointer.

    The version's model must pass its sha256 check; a version whose features, their types or
    its classes differ from the champion's needs --force. Exits 3 when another move changed
    the champion meanwhile (nothing is changed: run again). A running API swaps it in on its
    next look.
    """
    from mlcycle.model.registry import Registry

    registry = Registry.from_settings(get_settings(root=root))
    current, readable = _current(registry)
    reasons = reason or ["promoted by hand (mlcycle promote)"]
    _move(registry, version, "promote", reasons, force, current, readable)


@registry_errors
def rollback(
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="A former champion to return to (default: the one the champion replaced).",
            show_default=False,
        ),
    ] = None,
    reason: ReasonOption = None,
    force: ForceOption = False,
    root: RootOption = None,
) -> None:
    """Make the previous champion the champion again (or an older one, with --to).

    The same checks as promote; exits 3 when another move changed the champion meanwhile.
    """
    from mlcycle.model.registry import Registry

    registry = Registry.from_settings(get_settings(root=root))
    current = registry.champion_pointer()
    if current is None:
        raise fail("no champion yet: nothing to roll back")
    if to is None:
        to = current.previous
        if to is None:
            raise fail(
                f"the champion {current.version} replaced no other: there is nothing to roll "
                "back to (`mlcycle champion` shows its history)"
            )
    elif to == current.version:
        raise fail(f"{to} is already the champion")
    else:
        moves, _ = registry.history(None, current.move) if current.move else ([], None)
        former = {m.previous for m in moves} | {m.version for m in moves} | {current.previous}
        if to not in former:
            raise fail(
                f"{to} has not been the champion (`mlcycle champion` lists those that were); "
                f"to make it the champion anyway: mlcycle promote {to}"
            )
    reasons = reason or [f"rolled back from {current.version} (mlcycle rollback)"]
    _move(registry, to, "rollback", reasons, force, current)
