"""The cloud pipeline commands: `compile` the spec, `submit` it to Vertex AI, `settle` a burst of
uploads (the data trigger's first build step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from mlcycle.cli.options import ConfigOption, RootOption, dataset_config, fail
from mlcycle.cli.render import console, err
from mlcycle.settings import get_settings

# -- compile --------------------------------------------------------------------------------


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

    path = compile_pipeline(output, dataset_config(config), image or DEFAULT_IMAGE)
    console.print(f"wrote {path}")


# -- submit ---------------------------------------------------------------------------------


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
    from mlcycle.pipeline.launch import pipeline_arguments, seed_if_first_run
    from mlcycle.pipeline.vertex import VertexTarget, build_job, create_request, submit_job

    if output is not None and not dry_run:
        raise fail("--output is for --dry-run: a real submit sends the request instead")
    settings = get_settings(root=root, config=config)
    dataset = dataset_config(settings.config)
    try:
        target = VertexTarget(project, region, settings.root, image, service_account)
    except ValueError as exc:
        raise fail(str(exc)) from None

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
        raise fail(f"pipeline job {job.job_id} failed: {exc}") from None
    console.print(f"{'finished' if wait else 'submitted'}: {job.resource_name}")


# -- settle ---------------------------------------------------------------------------------


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
    from mlcycle.trigger import settle as settle_upload

    bucket, _, name = upload.partition("://")[2].partition("/")
    if not upload or ("://" in upload and not (bucket and name)):
        # A manual build that named no upload: _BUCKET_ID and _OBJECT_ID were left empty.
        raise fail(f"name the uploaded file as gs://BUCKET/OBJECT, got {upload!r}", code=2)
    settings = get_settings(root=root)
    decision = settle_upload(
        upload,
        settings.root,
        seconds,
        event_type=event_type,
        generation=generation or None,
    )
    # Text, not markup: object names are the uploader's and may hold brackets.
    verdict = ("retrain", "bold green") if decision.retrain else ("no run", "yellow")
    console.print(Text.assemble(verdict, ": ", upload, f": {decision.reason}"), soft_wrap=True)
    if decision.retrain and mark is not None:
        mark.write_text(upload + "\n")
