"""The `mlcycle` command line: a thin shell over the pipeline, the registry and the services.

One module per command group (models, champion, data, feedback, pipeline, services);
options.py holds what they share, render.py how they show it. This module builds the Typer
app from them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlcycle.cli import champion, data, feedback, models, monitor, pipeline, services
from mlcycle.cli.options import fail

# `mlcycle --help` lists commands in the order a user meets them, not in source order.
COMMAND_ORDER = (
    "up",
    "run",
    "data",
    "models",
    "champion",
    "promote",
    "rollback",
    "report",
    "serve",
    "ui",
    "watch",
    "feedback",
    "monitor",
    "compile",
    "submit",
    "settle",
)


class _ByUse(typer.core.TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: rank.get(n, len(rank)))

    def invoke(self, ctx: Any) -> Any:
        # Every command reads its settings when it starts: a bad MLCYCLE_* value (or PORT,
        # AIP_*) is one line naming the variable, from any command, never a traceback.
        from pydantic import ValidationError

        from mlcycle.settings import describe_error

        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            line = describe_error(exc)
            if line is None:
                raise
            raise fail(line) from None  # 1, as a bad config: 2 means rejected data


def _plain_metavars() -> None:
    """Typer's help shows `<bool>` beside every flag and `{file}` for a required argument:
    flags take no value, and usage lines conventionally say FILE."""
    from typer.core import TyperArgument, TyperOption

    flag_type = TyperOption.display_type_rich
    if getattr(flag_type, "_mlcycle", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else flag_type(self, ctx)

    def usage_name(self: TyperArgument) -> str:
        name = (self.metavar or self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    display_type_rich._mlcycle = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]


_plain_metavars()
app = typer.Typer(
    cls=_ByUse,
    help="mlcycle: train, gate, register and serve tabular classifiers.",
    no_args_is_help=True,
    add_completion=False,
    # Markdown joins a docstring's wrapped lines into one paragraph (rich mode breaks them
    # where the source does).
    rich_markup_mode="markdown",
)
app.add_typer(data.app, name="data")
app.add_typer(feedback.app, name="feedback")
for command in (
    models.run,
    models.models,
    champion.champion,
    champion.promote,
    champion.rollback,
    models.report,
    services.serve,
    services.ui,
    services.up,
    services.watch,
    monitor.monitor,
    pipeline.submit,
    pipeline.settle,
):
    app.command()(command)
app.command("compile")(pipeline.compile_cmd)


def _version(value: bool) -> None:
    if value:
        import mlcycle

        print(f"mlcycle {mlcycle.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """mlcycle: train, gate, register and serve tabular classifiers.

    Start with `mlcycle up` (what `make run` does).
    """


def main() -> None:
    app()
