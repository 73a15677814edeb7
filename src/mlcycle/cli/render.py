"""How the CLI shows things: its consoles, tables, summaries, times and sizes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from mlcycle.cli.progress import Progress
    from mlcycle.model.champion import ChampionMove
    from mlcycle.model.registration import Registration
    from mlcycle.model.version import OnnxRecord
    from mlcycle.storage import FileInfo

console = Console()
err = Console(stderr=True)


def format_time(value: str | float | None) -> str:
    """An epoch or ISO time as `2026-12-01 21:40:12` (UTC); anything else as given."""
    from datetime import UTC, datetime

    if value in (None, ""):
        return ""
    try:
        moment = datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError):
        try:
            moment = datetime.fromisoformat(str(value)).astimezone(UTC)
        except ValueError:
            return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_size(size: int) -> str:
    """`812 B`, `12.3 kB`, `4.1 MB`."""
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{size} B"


def steps_table(progress: Progress) -> Table:
    """The live view of a run: each step with its state and time."""
    from mlcycle.pipeline.local import STEPS

    icons = {
        "pending": "[dim]·[/]",
        "running": "[yellow]…[/]",
        "done": "[green]✓[/]",
        "cached": "[cyan]↺[/]",
        "failed": "[red]✗[/]",
    }
    table = Table.grid(padding=(0, 2))
    now = time.perf_counter()
    for step in STEPS:
        clock = progress.get(step)
        seconds = clock.seconds(now)
        extra = ""
        if clock.state == "cached":
            extra = "[dim]cached[/]"
        elif clock.state in ("running", "done", "failed") and seconds is not None:
            extra = f"[dim]{seconds:.1f}s[/]"
        table.add_row(icons[clock.state], step, extra)
    return table


def summary_table(registration: Registration) -> Table:
    """The challenger's metrics beside the champion's, both on the same test split."""
    from mlcycle.model.metrics import NAMES  # numpy: only a finished run pays for it

    before = registration.champion_before
    table = Table(title="challenger vs champion (same test split)", title_justify="left")
    table.add_column("metric")
    table.add_column(f"challenger {registration.version}", justify="right")
    table.add_column(f"champion {before.version if before else '(none)'}", justify="right")
    for name in NAMES:
        if name not in registration.metrics:  # binary-only metrics of a multi-class model
            continue
        theirs = before.metrics.get(name) if before else None
        table.add_row(
            name, f"{registration.metrics[name]:.4f}", "" if theirs is None else f"{theirs:.4f}"
        )
    return table


def serving_line(onnx: OnnxRecord | None) -> Text | None:
    """How the API will serve this version: the fast path, or why it falls back."""
    if not onnx:
        return None
    if onnx.exported:
        return Text.assemble("serving: ", ("onnxruntime", "green"), " (ONNX export matched)")
    reason = onnx.reason or "no reason recorded"
    return Text.assemble(
        "serving: ",
        ("scikit-learn", "bold yellow"),
        f" (slower): the ONNX export failed: {reason}",
    )


def models_table(rows: list[dict[str, Any]]) -> Table:
    """`mlcycle models`: one line per version, the champion starred. A version id begins with
    its creation time (UTC), so no column repeats it; `--json` has `created_at`."""
    # Rules under the header only, two spaces between columns: it must read at 80 columns
    # (a pipe's width). Ids, figures and words stay whole, never cut (ids are what `report
    # --version` takes); a long candidate name folds onto a second line rather than "lo…".
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for col in ("", "version", "candidate", "roc_auc", "recall", "gate", "data"):
        folds = col == "candidate"
        table.add_column(col, no_wrap=not folds, overflow="fold", min_width=10 if folds else None)
    for r in rows:
        table.add_row(
            "★" if r["is_champion"] else "",
            r["version"],
            r["candidate"],
            f"{r['metrics']['roc_auc']:.4f}",
            f"{r['metrics']['recall']:.4f}",
            r["gate"]["decision"],
            r["data_hash"][:12],
        )
    return table


def files_table(files: list[FileInfo]) -> Table:
    """`mlcycle data list`: each incoming file with its size and time."""
    table = Table("file", "size", "modified (UTC)")
    for info in files:
        table.add_row(Text(info.name), format_size(info.size), format_time(info.modified))
    return table


def champion_table(moves: list[ChampionMove]) -> Table:
    """`mlcycle champion`: each move of the champion, newest first, in two lines: when and
    which kind; to which version and from which; by what and why."""
    table = Table(title="champion history (newest first)", title_justify="left", show_lines=True)
    table.add_column("when (UTC) / move", no_wrap=True)
    table.add_column("to / from", no_wrap=True)
    table.add_column("by / why", overflow="fold")
    for move in moves:
        table.add_row(
            f"{format_time(move.at)}\n{move.kind} (#{move.seq})",
            Text(f"{move.version}\n← {move.previous or '(none)'}"),
            Text(f"{move.by.who}\n{'; '.join(move.reasons) or '(no reason given)'}"),
        )
    return table
