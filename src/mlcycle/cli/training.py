"""Training from the command line: a pipeline run with its live step view, its outcome
printed and turned into an exit code. `mlcycle run` is this; so is `mlcycle up`'s first run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from mlcycle.cli.options import (
    EXIT_INTERRUPTED,
    EXIT_LOST,
    EXIT_REJECTED,
    fail,
    interrupt_on_signals,
)
from mlcycle.cli.progress import Progress
from mlcycle.cli.render import console, err, serving_line, steps_table, summary_table

if TYPE_CHECKING:
    from mlcycle.config import DatasetConfig
    from mlcycle.pipeline.local import Containers
    from mlcycle.settings import Settings


def train(
    settings: Settings,
    dataset: DatasetConfig,
    *,
    verbose: bool = False,
    containers: Containers | None = None,
) -> None:
    """Run the training pipeline, showing each step live, then print the outcome.

    Returns when the pipeline finished, promoted or not; raises typer.Exit with the
    command's exit code (EXIT_REJECTED, EXIT_LOST, EXIT_INTERRUPTED, 1) otherwise.
    """
    from mlcycle import storage
    from mlcycle.pipeline.launch import champion_to_compare
    from mlcycle.pipeline.local import run_pipeline

    champion_to_compare(storage.normalize(settings.root), dataset)  # one line, not a step table
    progress = Progress()
    console.print(f"[bold]mlcycle run[/] root={settings.root} config={settings.config}")
    interrupt_on_signals()  # SIGTERM too: the steps are ended, not left running
    try:
        with Live(
            steps_table(progress),
            console=console,
            refresh_per_second=8,
            transient=False,
            get_renderable=lambda: steps_table(progress),
        ):
            result = run_pipeline(
                settings.root,
                dataset,
                settings.pipeline_root,
                progress.update,
                containers,
                keep_runs=settings.keep_runs,
            )
    except KeyboardInterrupt:
        running = progress.running()
        where = f" during {', '.join(running)}" if running else ""
        raise fail(
            f"stopped{where}: the run's steps were ended, none is left running; "
            "the champion is as it was unless the register step had already switched it",
            code=EXIT_INTERRUPTED,
        ) from None
    console.print()
    if result.seeded:
        console.print(f"first run: wrote the default data to {result.seeded}")
    if verbose:
        console.print(Path(result.log_path).read_text(), markup=False, highlight=False)
    if result.rejection is not None:
        err.print(
            Panel(
                Text(result.rejection.render()),  # Text: "[file ...]" is not rich markup
                title=f"data rejected by {result.failed_step}",
                border_style="red",
            )
        )
        from mlcycle.data.quarantine import rejection_advice
        from mlcycle.model.registry import Registry

        champion = Registry.from_settings(settings).champion_version()
        err.print(Text(rejection_advice(result.rejection, settings.root, champion)), soft_wrap=True)
        raise typer.Exit(EXIT_REJECTED)
    if not result.ok:
        tail = "\n".join(Path(result.log_path).read_text().splitlines()[-30:])
        err.print(
            Panel(
                Text(tail),
                title=f"step {result.failed_step or '?'} failed; log tail",
                border_style="red",
            )
        )
        raise fail(f"pipeline failed; full log: {result.log_path}")
    from mlcycle.model.registration import Registration

    reg = Registration.model_validate(result.registration)
    console.print(summary_table(reg))
    colour = "green" if reg.promoted else "yellow"
    console.print(f"gate: [bold {colour}]{reg.gate.decision}[/]")
    for reason in reg.gate.reasons:
        console.print(f"  - {escape(reason)}")
    for warning in reg.warnings:
        where = warning.get("column") or warning.get("file") or ""
        text = escape(f"{where}: {warning['rule']}: {warning['message']}")
        console.print(f"[yellow]data warning[/] {text}")
    if line := serving_line(reg.onnx):
        console.print(line)
    note = "" if reg.registered else " (model unchanged: already registered)"
    console.print(
        f"version [bold]{reg.version}[/]{note}; champion: "
        f"[bold]{reg.champion or '(none)'}[/]  ({result.seconds:.1f}s)"
    )
    if reg.lost:
        raise fail(
            f"this run lost: another run made {reg.champion or '(none)'} the champion while "
            f"it ran, so {reg.version} was not promoted; run again to compare with it",
            code=EXIT_LOST,
        )
