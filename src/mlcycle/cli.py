"""The `mlcycle` command line: a thin shell over the pipeline, the registry and the services."""

from __future__ import annotations

import functools
import json
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mlcycle.settings import get_settings

# `mlcycle --help` lists commands in the order a user meets them, not in source order.
COMMAND_ORDER = (
    "up",
    "run",
    "data",
    "models",
    "promote",
    "report",
    "serve",
    "ui",
    "watch",
    "compile",
    "submit",
    "settle",
)


class _ByUse(typer.core.TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: rank.get(n, len(rank)))


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
data_app = typer.Typer(help="Manage the data in ROOT/data/incoming/.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
err = Console(stderr=True)

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

METRIC_ORDER = ("roc_auc", "accuracy", "precision", "recall", "f1", "brier")
EXIT_REJECTED = 2
EXIT_INTERRUPTED = 130  # as shells report a Ctrl-C
EXIT_LOST = 3  # another run changed the champion meanwhile: this one was not promoted


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


def _fail(message: str, code: int = 1) -> typer.Exit:
    # soft_wrap: an error names files and commands to copy; rich must not break them at the
    # console's width (80 columns when the output is not a terminal).
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def _registry_errors(command: Any) -> Any:
    """A broken registry (a malformed champion pointer, a model failing its sha256 check)
    is reported as the one-line error RegistryError carries, never as a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mlcycle.model.registry import RegistryError

        try:
            return command(*args, **kwargs)
        except RegistryError as exc:
            raise _fail(escape(str(exc))) from None

    return wrapper


def _interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, so long-running commands clean up.

    SIGINT is set explicitly: a shell starts background jobs with it ignored, and Python then
    installs no handler of its own. SIGTERM is what `docker stop` and supervisors send.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def _config(path: Path | None) -> Any:
    from mlcycle.config import ConfigError, load_config  # not at import: `serve` never needs it

    settings = get_settings(config=path)
    try:
        return load_config(settings.config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _when(value: str | float | None) -> str:
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


def _size(size: int) -> str:
    """`812 B`, `12.3 kB`, `4.1 MB`."""
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{size} B"


# -- run ------------------------------------------------------------------------------------


def _steps_table(states: dict[str, str], started: dict[str, float]) -> Table:
    from mlcycle.pipeline.local import STEPS

    icons = {
        "pending": "[dim]·[/]",
        "running": "[yellow]…[/]",
        "done": "[green]✓[/]",
        "cached": "[cyan]↺[/]",
        "failed": "[red]✗[/]",
    }
    table = Table.grid(padding=(0, 2))
    for step in STEPS:
        state = states.get(step, "pending")
        extra = ""
        if state == "running":
            extra = f"[dim]{time.perf_counter() - started[step]:.1f}s[/]"
        elif state == "cached":
            extra = "[dim]cached[/]"
        elif step in started and state in ("done", "failed"):
            extra = f"[dim]{started[step + ':end'] - started[step]:.1f}s[/]"
        table.add_row(icons[state], step, extra)
    return table


def _summary(registration: dict[str, Any]) -> Table:
    before = registration.get("champion_before") or {}
    table = Table(title="challenger vs champion (same test split)", title_justify="left")
    table.add_column("metric")
    table.add_column(f"challenger {registration['version']}", justify="right")
    table.add_column(f"champion {before.get('version', '(none)')}", justify="right")
    for name in METRIC_ORDER:
        theirs = before.get("metrics", {}).get(name)
        table.add_row(
            name, f"{registration['metrics'][name]:.4f}", "" if theirs is None else f"{theirs:.4f}"
        )
    return table


def _serving_line(onnx: dict[str, Any] | None) -> Text | None:
    """How the API will serve this version: the fast path, or why it falls back."""
    if not onnx:
        return None
    if onnx.get("status") == "exported":
        return Text.assemble("serving: ", ("onnxruntime", "green"), " (ONNX export matched)")
    reason = onnx.get("reason") or "no reason recorded"
    return Text.assemble(
        "serving: ",
        ("scikit-learn", "bold yellow"),
        f" (slower): the ONNX export failed: {reason}",
    )


@app.command()
@_registry_errors
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
    from mlcycle.pipeline.local import Containers, run_pipeline

    if user and not image:
        raise _fail("--user needs --image: without it the steps run as you")
    settings = get_settings(root=root, config=config)
    dataset = _config(settings.config)
    containers = Containers(image, user) if image else None
    states: dict[str, str] = {}
    started: dict[str, float] = {}

    def on_step(step: str, state: str) -> None:
        now = time.perf_counter()
        if state == "running":
            started[step] = now
        elif state in ("done", "failed"):
            started[step + ":end"] = now
        states[step] = state

    console.print(f"[bold]mlcycle run[/] root={settings.root} config={settings.config}")
    _interrupt_on_signals()  # SIGTERM too: the steps are ended, not left running
    try:
        with Live(
            _steps_table(states, started),
            console=console,
            refresh_per_second=8,
            transient=False,
            get_renderable=lambda: _steps_table(states, started),
        ):
            result = run_pipeline(
                settings.root,
                dataset,
                settings.pipeline_root,
                on_step,
                containers,
                keep_runs=settings.keep_runs,
            )
    except KeyboardInterrupt:
        running = [step for step, state in states.items() if state == "running"]
        where = f" during {', '.join(running)}" if running else ""
        raise _fail(
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

        champion = Registry(settings.root).champion_version()
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
        raise _fail(f"pipeline failed; full log: {result.log_path}")
    reg = result.registration
    console.print(_summary(reg))
    gate = reg["gate"]
    colour = "green" if reg["promoted"] else "yellow"
    console.print(f"gate: [bold {colour}]{gate['decision']}[/]")
    for reason in gate["reasons"]:
        console.print(f"  - {escape(reason)}")
    for warning in reg.get("warnings", []):
        where = warning.get("column") or warning.get("file") or ""
        text = escape(f"{where}: {warning['rule']}: {warning['message']}")
        console.print(f"[yellow]data warning[/] {text}")
    if line := _serving_line(reg.get("onnx")):
        console.print(line)
    note = "" if reg["registered"] else " (model unchanged: already registered)"
    console.print(
        f"version [bold]{reg['version']}[/]{note}; champion: "
        f"[bold]{reg['champion'] or '(none)'}[/]  ({result.seconds:.1f}s)"
    )
    if reg.get("lost"):
        raise _fail(
            f"this run lost: another run made {reg['champion'] or '(none)'} the champion while "
            f"it ran, so {reg['version']} was not promoted; run again to compare with it",
            code=EXIT_LOST,
        )


# -- models ---------------------------------------------------------------------------------


def model_rows(root: str) -> list[dict[str, Any]]:
    """Every version, as `mlcycle models --json` prints them."""
    from mlcycle.model.registry import Registry

    registry = Registry(root)
    champion = registry.champion_version()
    return [
        {
            "version": m["version"],
            "is_champion": m["version"] == champion,
            "created_at": m["created_at"],
            "candidate": m["model"].get("candidate"),
            "data_hash": m["lineage"]["data_hash"],
            "gate": m["gate"],
            "metrics": m["metrics"],
        }
        for m in registry.versions()
    ]


@app.command()
@_registry_errors
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
    table = Table()
    for col in ("", "version", "created", "candidate", "roc_auc", "recall", "gate", "data"):
        # Whole version ids, never cut: they are what `report --version` takes.
        wide = max(len(r["version"]) for r in rows) if col == "version" else None
        table.add_column(col, no_wrap=col in ("version", "created"), min_width=wide)
    for r in rows:
        table.add_row(
            "★" if r["is_champion"] else "",
            r["version"],
            _when(r["created_at"]),
            r["candidate"],
            f"{r['metrics']['roc_auc']:.4f}",
            f"{r['metrics']['recall']:.4f}",
            r["gate"]["decision"],
            r["data_hash"][:12],
        )
    console.print(table)


@app.command()
@_registry_errors
def promote(
    version: Annotated[
        str, typer.Argument(help="A registered version id, as `mlcycle models` lists it.")
    ],
    root: RootOption = None,
) -> None:
    """Make VERSION the champion: a rollback, or the repair of a broken champion pointer.

    The version's model must pass its sha256 check. A running API swaps it in on its next look.
    """
    from mlcycle.model.registry import Registry

    registry = Registry(get_settings(root=root).root)
    registry.model_bytes(version, registry.get(version))  # a corrupt model is never promoted
    pointer = registry.promote(version, ["promoted by hand (mlcycle promote)"])
    console.print(f"champion: [bold]{version}[/] (was {pointer['previous'] or '(none)'})")


# -- report ---------------------------------------------------------------------------------


@app.command()
@_registry_errors
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

    registry = Registry(get_settings(root=root).root)
    version = version or registry.champion_version()
    if version is None:
        raise _fail("no champion yet: run `mlcycle run` or name a --version")
    try:
        meta = registry.get(version)
    except RegistryError as exc:
        raise _fail(str(exc)) from None
    if REPORT_FILE not in meta.get("artifacts", []):
        raise _fail(f"version {version} has no report")
    uri = registry.version_uri(version, REPORT_FILE)
    if not storage.is_local(uri):
        local = Path(tempfile.gettempdir()) / f"mlcycle-report-{version}.html"
        local.write_bytes(storage.read_bytes(uri))
        uri = str(local)
    print(uri)
    if open_browser:
        webbrowser.open(Path(uri).as_uri())


# -- data -----------------------------------------------------------------------------------


def _incoming(root: str | None) -> str:
    """The incoming folder of the root the options and environment name."""
    from mlcycle import storage
    from mlcycle.data.incoming import incoming_uri

    return incoming_uri(storage.normalize(get_settings(root=root).root))


@data_app.command("add")
def data_add(
    file: Annotated[Path, typer.Argument(help="A .csv or .parquet file.")], root: RootOption = None
) -> None:
    """Copy a data file into the incoming folder; the next run (or `mlcycle watch`) trains on it."""
    from mlcycle import storage
    from mlcycle.data.incoming import READERS

    if not file.is_file():
        raise _fail(f"no such file: {file}")
    if not file.name.lower().endswith(READERS):
        raise _fail(f"{file.name}: incoming files must end in {', '.join(READERS)}")
    incoming = _incoming(root)
    target = storage.join(incoming, file.name)
    if storage.exists(target):
        target = storage.join(incoming, f"{time.strftime('%Y%m%d-%H%M%S')}-{file.name}")
    storage.upload(file, target)
    console.print(f"added {file} as {target}")


@data_app.command("list")
def data_list(root: RootOption = None) -> None:
    """List the files in the incoming folder."""
    from mlcycle import storage

    files = storage.list_files(_incoming(root))
    if not files:
        console.print(f"no files in {_incoming(root)}")
        return
    table = Table("file", "size", "modified (UTC)")
    for info in files:
        table.add_row(Text(info.name), _size(info.size), _when(info.modified))
    console.print(table)


@data_app.command("rm")
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

    incoming = _incoming(root)
    files = {info.name: info for info in storage.list_files(incoming)}
    if remove_all:
        if name is not None:
            raise _fail(f"give either a NAME or --all, not both (got {name!r} and --all)")
        if not files:
            raise _fail(f"no files in {incoming}: nothing to remove")
        for info in files.values():
            storage.remove_file(info.uri)
            console.print(Text(f"removed {info.uri}"))
        return
    if name is None:
        raise _fail("name the file to remove (see `mlcycle data list`), or pass --all")
    problem = _incoming_name_problem(name)
    if problem:
        raise _fail(f"{problem}; name one file as `mlcycle data list` shows it")
    info = files.get(name)
    if info is None:
        known = ", ".join(sorted(files)) or "none"
        raise _fail(f"no incoming file named {name!r} in {incoming} (files there: {known})")
    storage.remove_file(info.uri)
    console.print(Text(f"removed {info.uri}"))


def _incoming_name_problem(name: str) -> str | None:
    """Why `name` cannot name one file directly inside the incoming folder, or None."""
    if not name.strip():
        return "the file name is empty"
    if "/" in name or "\\" in name:
        return f"{name!r} has a path separator: only files directly in the incoming folder"
    if name in (".", ".."):
        return f"{name!r} is a folder, not a file"
    return None


# -- compile --------------------------------------------------------------------------------


@app.command("compile")
def compile_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the spec.")] = Path(
        "mlcycle-pipeline.yaml"
    ),
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="Container image for every step (the Dockerfile's `pipeline` target).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Compile the pipeline to the spec YAML that Vertex AI Pipelines accepts."""
    from mlcycle.pipeline.compile import compile_pipeline
    from mlcycle.pipeline.components import DEFAULT_IMAGE

    path = compile_pipeline(output, _config(config), image or DEFAULT_IMAGE)
    console.print(f"wrote {path}")


# -- submit ---------------------------------------------------------------------------------


@app.command()
def submit(
    project: Annotated[str, typer.Option("--project", help="Google Cloud project id.")],
    region: Annotated[str, typer.Option("--region", help="Vertex AI region, e.g. europe-west1.")],
    image: Annotated[
        str,
        typer.Option(
            "--image",
            help="The pushed `pipeline` image every step runs in, e.g. "
            "REGION-docker.pkg.dev/PROJECT/mlcycle/mlcycle-pipeline:TAG.",
        ),
    ],
    root: RootOption = None,
    config: ConfigOption = None,
    service_account: Annotated[
        str | None,
        typer.Option(
            "--service-account",
            help="E-mail of the service account the steps run as (default: Vertex AI's).",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Block until the run ends; exit 1 if it failed (what CI wants)."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Build the real PipelineJob offline (anonymous credentials) and write the "
            "request it would send, instead of sending it. Still lists the bucket.",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="With --dry-run: write the request JSON here, not to stdout."
        ),
    ] = None,
) -> None:
    """Run the training pipeline on Vertex AI Pipelines, data and registry in a bucket.

    Every step runs in IMAGE, on a machine sized by the config's `resources`.

    The run's parameters come from the bucket: the incoming listing and the current champion.

    Step artifacts go to ROOT/pipeline. An empty bucket first gets the config's default data.
    """
    from mlcycle import storage
    from mlcycle.pipeline.launch import pipeline_arguments, seed_if_first_run
    from mlcycle.pipeline.vertex import VertexTarget, build_job, create_request, submit_job

    if output is not None and not dry_run:
        raise _fail("--output is for --dry-run: a real submit sends the request instead")
    settings = get_settings(root=root, config=config)
    dataset = _config(settings.config)
    try:
        target = VertexTarget(
            project, region, storage.normalize(settings.root), image, service_account
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None

    credentials = None  # the environment's own (Application Default Credentials)
    if dry_run:
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()  # nothing is sent: no login needed
    else:
        import logging

        # The SDK logs the job's console link and state changes at INFO.
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        if seeded := seed_if_first_run(target.root, dataset):
            console.print(f"first run: wrote the default data to {seeded}")
    job = build_job(target, dataset, pipeline_arguments(target.root, dataset), credentials)
    if dry_run:
        text = json.dumps(create_request(job, target), indent=2, sort_keys=True) + "\n"
        if output is None:
            print(text, end="")
        else:
            output.write_text(text)
            err.print(f"dry run: wrote the request for {target.parent} to {output}")
        return
    try:
        submit_job(job, target, wait)
    except RuntimeError as exc:
        raise _fail(f"pipeline job {job.job_id} failed: {exc}") from None
    console.print(f"{'finished' if wait else 'submitted'}: {job.resource_name}")


# -- settle ---------------------------------------------------------------------------------


@app.command()
def settle(
    upload: Annotated[
        str,
        typer.Argument(
            help="The uploaded file, as its bucket notification names it: gs://BUCKET/OBJECT "
            "(or a local path).",
            show_default=False,
        ),
    ],
    root: RootOption = None,
    seconds: Annotated[
        float,
        typer.Option("--seconds", min=0.0, help="How long to wait for more uploads first."),
    ] = 60.0,
    event_type: Annotated[
        str,
        typer.Option(
            "--event-type",
            help="The notification's eventType; only OBJECT_FINALIZE (a new or replaced "
            "object) retrains.",
        ),
    ] = "OBJECT_FINALIZE",
    generation: Annotated[
        str | None,
        typer.Option(
            "--generation",
            help="The notification's objectGeneration: if the object was overwritten since, "
            "the newer version's build retrains instead. Empty: not checked.",
            show_default=False,
        ),
    ] = None,
    mark: Annotated[
        Path | None,
        typer.Option(
            "--mark",
            help="Write this file (holding UPLOAD) when UPLOAD is the one to retrain on, and "
            "only then: later build steps test for it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Wait for a burst of uploads to settle, then say whether UPLOAD is the one to retrain on.

    The data trigger starts one build per uploaded file, and each build runs this first.

    After --seconds it lists ROOT/data/incoming/: UPLOAD retrains only if it is the newest file.

    Newest means the latest update time, ties broken by name: a burst retrains once, on all.

    An upload that is gone, hidden, or outside the incoming folder retrains nothing.

    Exits 0 either way; --mark (and the line it prints) tell the two outcomes apart.
    """
    from mlcycle import storage
    from mlcycle.trigger import settle as settle_upload

    bucket, _, name = upload.partition("://")[2].partition("/")
    if not upload or ("://" in upload and not (bucket and name)):
        # A manual build that named no upload: _BUCKET_ID and _OBJECT_ID were left empty.
        raise _fail(f"name the uploaded file as gs://BUCKET/OBJECT, got {upload!r}", code=2)
    settings = get_settings(root=root)
    decision = settle_upload(
        upload,
        storage.normalize(settings.root),
        seconds,
        event_type=event_type,
        generation=generation or None,
    )
    # Text, not markup: object names are the uploader's and may hold brackets.
    verdict = ("retrain", "bold green") if decision.retrain else ("no run", "yellow")
    console.print(Text.assemble(verdict, ": ", upload, f": {decision.reason}"), soft_wrap=True)
    if decision.retrain and mark is not None:
        mark.write_text(upload + "\n")


# -- watch ----------------------------------------------------------------------------------


@app.command()
def watch(
    root: RootOption = None,
    config: ConfigOption = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between two looks.")
    ] = 2.0,
    settle: Annotated[
        float | None,
        typer.Option(
            "--settle",
            min=0.0,
            help="Seconds a change must stay still before a run (default: --interval).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Retrain whenever the files in ROOT/data/incoming/ change (a folder or a bucket prefix).

    One run at a time; a rejected or failed run is reported and the watch goes on.

    Files present at start count as seen. Ctrl-C stops it.
    """
    from mlcycle import storage
    from mlcycle.pipeline.local import run_pipeline
    from mlcycle.watch import WatchEvent
    from mlcycle.watch import watch as watch_loop

    settings = get_settings(root=root, config=config)
    dataset = _config(settings.config)
    root_uri = storage.normalize(settings.root)
    styles = {"promoted": "bold green", "kept": "yellow", "rejected": "bold red", "failed": "red"}

    def on_event(event: WatchEvent) -> None:
        style = styles.get(event.kind, "red" if event.kind == "error" else "bold")
        # Text, not markup: messages quote file names and reports that may hold brackets.
        line = Text.assemble((time.strftime("%H:%M:%S"), "dim"), " ", (event.kind, style), " ")
        console.print(line + Text(event.message))

    _interrupt_on_signals()
    try:
        watch_loop(
            root_uri,
            lambda: run_pipeline(
                root_uri, dataset, settings.pipeline_root, keep_runs=settings.keep_runs
            ),
            on_event,
            interval=interval,
            settle=settle,
        )
    except KeyboardInterrupt:
        console.print("stopped")


# -- serve ----------------------------------------------------------------------------------


@app.command()
def serve(
    root: RootOption = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to bind (env MLCYCLE_HOST; default 127.0.0.1, or 0.0.0.0 when "
            "PORT or AIP_HTTP_PORT is set).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port (env AIP_HTTP_PORT, then PORT; default 8080).", show_default=False),
    ] = None,
) -> None:
    """Serve the registry's champion over REST (FastAPI on uvicorn); swaps in new champions.

    Honours Cloud Run's PORT and Vertex AI's AIP_HTTP_PORT, AIP_HEALTH_ROUTE,
    AIP_PREDICT_ROUTE and AIP_STORAGE_URI (taken as the registry root).
    """
    import logging
    import os

    import uvicorn
    from pydantic import ValidationError

    from mlcycle.api import create_app
    from mlcycle.api.serving import guarded_protocol, resolve_serving
    from mlcycle.api.settings import get_api_settings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        settings = get_api_settings()
    except ValidationError as exc:
        raise _fail("; ".join(e["msg"] for e in exc.errors()), 2) from None
    serving = resolve_serving(os.environ, settings.root, root, host, port)
    err.print(f"mlcycle API on http://{serving.host}:{serving.port}  (registry {serving.root})")
    uvicorn.run(
        create_app(settings, serving),
        host=serving.host,
        port=serving.port,
        access_log=False,  # per-request log lines cost more than the prediction; see /metrics
        ws="none",  # no websocket routes: importing a websocket library costs ~0.1 s of start
        http=guarded_protocol(settings.header_timeout_seconds, settings.body_timeout_seconds),
        log_level="info",
    )


# -- ui -------------------------------------------------------------------------------------


@app.command()
def ui(
    api_url: Annotated[
        str | None,
        typer.Option(
            help="The prediction API's base URL (env MLCYCLE_API_URL; default "
            "http://127.0.0.1:8080).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Interface to bind (default 127.0.0.1, or 0.0.0.0 when PORT is set).",
            show_default=False,
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (env PORT; default 8081).", show_default=False)
    ] = None,
) -> None:
    """Serve the prediction web page (Flask on gunicorn); it calls the API over HTTP."""
    import os

    from mlcycle.ui.server import resolve_bind, run_ui
    from mlcycle.ui.settings import get_ui_settings

    bind = resolve_bind(os.environ, host, port)
    shown = api_url or get_ui_settings().api_url
    err.print(f"mlcycle UI on http://{bind.host}:{bind.port}  (API {shown})")
    run_ui(bind, api_url)


# -- up -------------------------------------------------------------------------------------


@app.command()
@_registry_errors
def up(
    root: RootOption = None,
    config: ConfigOption = None,
    api_port: Annotated[int, typer.Option(help="The API's port.")] = 8080,
    ui_port: Annotated[int, typer.Option(help="The UI's port.")] = 8081,
) -> None:
    """Train a champion if there is none yet, then start the API and the UI on 127.0.0.1.

    What `make run` does. Ctrl-C stops both.
    """
    from mlcycle import stack, storage
    from mlcycle.model.registry import Registry

    busy = []
    for name, port, flag in (("API", api_port, "--api-port"), ("UI", ui_port, "--ui-port")):
        if not stack.port_is_free(port):
            near = stack.free_port_near(port, {api_port, ui_port})
            busy.append(
                f"port {port} (the {name}'s) is in use: pick another with {flag}"
                + (f", e.g. {flag} {near}" if near else "")
            )
    if api_port == ui_port:
        busy.append(f"--api-port and --ui-port are both {api_port}: give them different ports")
    if busy:  # before any training: say it now, not after minutes of pipeline
        raise _fail("; ".join(busy))
    settings = get_settings(root=root, config=config)
    root_uri = storage.normalize(settings.root)
    if Registry(root_uri).champion_version() is None:
        run(root=root_uri, config=settings.config)
        if Registry(root_uri).champion_version() is None:
            raise _fail(
                "no model passed the gate, so there is nothing to serve; see the reasons above"
            )
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    services: list[stack.Service] = []
    _interrupt_on_signals()
    try:
        for name, args, url, ready in (
            ("API", ["serve", "--root", root_uri, "--port", str(api_port)], api_url, "/readyz"),
            ("UI", ["ui", "--api-url", api_url, "--port", str(ui_port)], ui_url, "/healthz"),
        ):
            port = api_port if name == "API" else ui_port
            services.append(stack.start(name, [*args, "--host", "127.0.0.1"], url, ready, port))
            stack.wait_ready(services[-1])
        console.print(
            f"\n[bold]mlcycle is up[/]  (Ctrl-C stops it)\n"
            f"  UI   {ui_url}\n  API  {api_url}/docs\n  root {root_uri}"
        )
        ended = stack.wait_any(services)
        raise _fail(f"{ended.name} stopped unexpectedly (status {ended.process.returncode})")
    except stack.StackError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        stack.stop(services)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
