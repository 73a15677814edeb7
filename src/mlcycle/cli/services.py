"""The long-running commands: `serve` the API, the `ui`, `up` (both, after a first run),
`watch` (retrain on new data)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.text import Text

from mlcycle.cli.options import (
    ConfigOption,
    RootOption,
    dataset_config,
    fail,
    interrupt_on_signals,
    registry_errors,
)
from mlcycle.cli.render import console, err
from mlcycle.cli.training import train
from mlcycle.settings import get_settings

# -- serve ----------------------------------------------------------------------------------


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

    import uvicorn

    from mlcycle.api import create_app
    from mlcycle.api.serving import guarded_protocol, resolve_serving
    from mlcycle.settings import get_api_settings, get_platform

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    settings, platform = get_api_settings(), get_platform()  # a bad value: one line (cli)
    serving = resolve_serving(settings, platform, root, host, port)
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
    from mlcycle.settings import get_platform, get_ui_settings
    from mlcycle.ui.server import resolve_bind, run_ui

    bind = resolve_bind(get_platform(), host, port)
    shown = api_url or get_ui_settings().api_url
    err.print(f"mlcycle UI on http://{bind.host}:{bind.port}  (API {shown})")
    run_ui(bind, api_url)


# -- up -------------------------------------------------------------------------------------


@registry_errors
def up(
    root: RootOption = None,
    config: ConfigOption = None,
    api_port: Annotated[int, typer.Option(help="The API's port.")] = 8080,
    ui_port: Annotated[int, typer.Option(help="The UI's port.")] = 8081,
) -> None:
    """Train a champion if there is none yet, then start the API and the UI on 127.0.0.1.

    What `make run` does. Ctrl-C stops both.
    """
    from mlcycle import stack
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
        raise fail("; ".join(busy))
    settings = get_settings(root=root, config=config)
    root_uri = settings.root
    registry = Registry.from_settings(settings)
    if registry.champion_version() is None:
        train(settings, dataset_config(settings.config))
        if registry.champion_version() is None:
            raise fail(
                "no model passed the gate, so there is nothing to serve; see the reasons above"
            )
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    services: list[stack.Service] = []
    interrupt_on_signals()
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
        raise fail(f"{ended.name} stopped unexpectedly (status {ended.process.returncode})")
    except stack.StackError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        stack.stop(services)


# -- watch ----------------------------------------------------------------------------------


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
    on_drift: Annotated[
        bool,
        typer.Option(
            "--on-drift",
            help="Also run the drift monitor (`mlcycle monitor`) every --drift-interval and "
            "retrain when a feature drifts past the config's psi_alert, once per report.",
        ),
    ] = False,
    drift_interval: Annotated[
        float,
        typer.Option(
            "--drift-interval", min=1.0, help="With --on-drift: seconds between two checks."
        ),
    ] = 600.0,
    drift_since: Annotated[
        str,
        typer.Option(
            "--drift-since",
            help="With --on-drift: the predictions of this last stretch of time are compared "
            "(as monitor --since: 30m, 24h, 7d).",
        ),
    ] = "24h",
) -> None:
    """Retrain whenever the files in ROOT/data/incoming/ change (a folder or a bucket prefix),
    and with --on-drift when the live features drift from the champion's training data.

    One run at a time; a rejected or failed run is reported and the watch goes on.

    Files present at start count as seen. Ctrl-C stops it.
    """
    from mlcycle.pipeline.local import run_pipeline
    from mlcycle.watch import WatchEvent
    from mlcycle.watch import watch as watch_loop

    settings = get_settings(root=root, config=config)
    dataset = dataset_config(settings.config)
    styles = {"promoted": "bold green", "kept": "yellow", "rejected": "bold red", "failed": "red"}
    check = None
    if on_drift:
        from mlcycle import monitor

        try:
            window = monitor.parse_duration(drift_since)
        except monitor.MonitorError as exc:
            raise fail(str(exc).replace("--since", "--drift-since")) from None

        def check() -> tuple[Any, bool]:
            report = monitor.measure(settings.root, dataset.drift, window)
            monitor.write(settings.root, report)
            return report, monitor.claim_retrain(settings.root, report)

    def on_event(event: WatchEvent) -> None:
        style = styles.get(event.kind, "red" if event.kind == "error" else "bold")
        # Text, not markup: messages quote file names and reports that may hold brackets.
        line = Text.assemble((time.strftime("%H:%M:%S"), "dim"), " ", (event.kind, style), " ")
        console.print(line + Text(event.message))

    interrupt_on_signals()
    if settings.warm_steps:
        from mlcycle.pipeline import warm

        warm.warm_process()  # started now, its imports are done before the first change
    try:
        watch_loop(
            settings.root,
            lambda: run_pipeline(
                settings.root, dataset, settings.pipeline_root, keep_runs=settings.keep_runs
            ),
            on_event,
            interval=interval,
            settle=settle,
            drift=check,
            drift_interval=drift_interval,
        )
    except KeyboardInterrupt:
        console.print("stopped")
