"""The data trigger, end to end: upload -> notification -> Pub/Sub -> trigger -> build.

fake-gcs-server publishes a notification for every object written to the bucket; the Pub/Sub
emulator carries it; the trigger's substitutions and subscription filter are the ones
`deploy/gcp/bootstrap.sh` installs (read from its dry run); each message that passes starts
deploy/cloudbuild/retrain.yaml, its steps run as local processes as Cloud Build would run
them (see trigger_support.py). What cannot run here: the image-digest read (a gcloud shim)
and the Vertex AI submit, which becomes the real `mlcycle submit --dry-run`: a pipeline run
is counted when that real request has been built. Storage is the emulator, for real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .trigger_support import DIGEST, REPO, Build, LocalCloud

pytestmark = pytest.mark.containers

BUCKET, PROJECT, REGION = LocalCloud.BUCKET, LocalCloud.PROJECT, LocalCloud.REGION


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        tmp_path_factory.mktemp("trigger"),
        {
            "_CONFIG": str(REPO / "configs" / "breast_cancer.yaml"),  # /app/configs in the image
            "_SETTLE_SECONDS": "2",
        },
    )
    yield cloud
    cloud.stop()


def incoming(cloud: LocalCloud, name: str) -> str:
    return cloud.incoming + name


def uri(object_id: str) -> str:
    return f"gs://{BUCKET}/{object_id}"


def settled(build: Build) -> str:
    return build.steps[0].output


def assert_ok(builds: list[Build]) -> None:
    for build in builds:
        assert build.ok, build.log()
        assert [s.id for s in build.steps] == ["settle", "resolve-image", "train"]


def test_the_trigger_is_the_one_bootstrap_installs(cloud: LocalCloud) -> None:
    assert cloud.trigger.build_config == REPO / "deploy" / "cloudbuild" / "retrain.yaml"
    assert cloud.incoming == "mlcycle/data/incoming/"
    assert f'"^{cloud.incoming}"' in cloud.trigger.subscription_filter


def test_an_upload_under_incoming_leads_to_one_pipeline_run(cloud: LocalCloud) -> None:
    with cloud.triggering() as session:
        session.upload(incoming(cloud, "2026-12-01.csv"))
    (event,) = session.events
    assert event.accepted
    assert_ok(session.builds)
    assert settled(event.build).startswith(f"retrain: {uri(event.object_id)}")
    (run,) = session.runs
    # The run is pinned to the digest `latest` had, and writes beside the data.
    image = f"{REGION}-docker.pkg.dev/{PROJECT}/mlcycle/mlcycle-pipeline@{DIGEST}"
    assert run.args[run.args.index("--image") + 1] == image
    assert run.args[run.args.index("--root") + 1] == f"gs://{BUCKET}/mlcycle"
    job = run.request["pipelineJob"]
    assert image in json.dumps(job["pipelineSpec"]["deploymentSpec"])
    assert job["runtimeConfig"]["gcsOutputDirectory"] == f"gs://{BUCKET}/mlcycle/pipeline"
    assert job["serviceAccount"] == f"mlcycle-pipeline@{PROJECT}.iam.gserviceaccount.com"
    assert run.request["parent"] == f"projects/{PROJECT}/locations/{REGION}"
    # The one cloud read the build makes, and nothing else.
    (describe,) = event.build.calls("gcloud")
    assert describe[:4] == ["artifacts", "docker", "images", "describe"]


def test_writes_elsewhere_in_the_bucket_retrain_nothing(cloud: LocalCloud) -> None:
    others = [
        "mlcycle/models/v0001/model.onnx",
        "mlcycle/models/champion.json",
        "mlcycle/pipeline/mlcycle-run/train/executor_output.json",
        "mlcycle/data/incoming-old/x.csv",
        "elsewhere/mlcycle/data/incoming/x.csv",
    ]
    with cloud.triggering() as session:
        for name in others:
            session.upload(name)
    with cloud.triggering() as cleanup:  # not a registry the later runs should read
        for name in others:
            cleanup.delete(name)
    # Each write was announced (this bucket notifies for everything) and the filter alone
    # turned it away: no build started.
    assert sorted(e.object_id for e in session.events) == sorted(others)
    assert not [e.object_id for e in session.events if e.accepted]
    assert session.builds == []


HOSTILE = [
    "x$(touch pwned).csv",
    "y`touch pwned2`.csv",
    "z';touch pwned3;'\".csv",
    'w"$(touch${IFS}pwned4)"|touch pwned5&.csv',
]


def test_a_hostile_object_name_executes_nothing(cloud: LocalCloud) -> None:
    names = [incoming(cloud, name) for name in HOSTILE]
    with cloud.triggering() as session:
        for name in names:
            session.upload(name)
    # Pub/Sub promises no order: each name is accepted once, whatever order they arrive in.
    assert sorted(e.object_id for e in session.events if e.accepted) == sorted(names)
    # No command hidden in a name ran: nothing was created anywhere (the steps run in their
    # workspace, where `touch pwned` would land).
    places = [cloud.workdir, REPO, Path.cwd(), Path("/tmp"), Path.home(), Path("/")]
    found = [str(p) for place in places for p in place.glob("pwned*")]
    found += [str(p) for p in cloud.workdir.rglob("pwned*")]
    assert not found, f"a command in an object name ran: {found}"
    for build in session.builds:
        made = sorted(p.name for p in build.workspace.iterdir())
        assert made in ([], ["pipeline_image", "retrain"]), made
    assert_ok(session.builds)
    # Each name reached mlcycle intact, as one argument...
    for build in session.builds:
        settle = build.calls("mlcycle")[0]
        assert settle[:2] == ["settle", uri(build.substitutions["_OBJECT_ID"])]
    assert sorted(b.calls("mlcycle")[0][1] for b in session.builds) == sorted(map(uri, names))
    # ...and the burst retrained once, the build that did quoting its name as it is.
    assert len(session.runs) == 1
    (retrained,) = [b for b in session.builds if b.runs]
    assert f"retraining for {uri(names[-1])}\n" in retrained.steps[-1].output


def test_a_burst_of_uploads_retrains_once(cloud: LocalCloud) -> None:
    first, *rest = names = [incoming(cloud, f"burst-{i}.csv") for i in range(5)]
    with cloud.triggering() as session:
        session.upload(first)
        # The first build is under way, and has had time to start up, when the rest land:
        # without the settle period it would list the folder before them and retrain alone.
        session.wait_until_settling(first)
        session.pause(1.5)
        for name in rest:
            session.upload(name)
    assert len(session.builds) == 5
    assert_ok(session.builds)
    assert min(b.started for b in session.builds) < max(session.uploaded)
    assert len(session.runs) == 1
    (retrained,) = [b for b in session.builds if b.runs]
    assert retrained.substitutions["_OBJECT_ID"] == names[-1]
    for build in session.builds:
        if build is not retrained:
            # Each looked after the burst had ended: all name the last upload.
            skipped = f"no run: {uri(build.substitutions['_OBJECT_ID'])}: a newer upload, "
            assert f"{skipped}{uri(names[-1])}, retrains" in settled(build)
            assert build.calls("gcloud") == []  # the later steps did nothing


def test_an_upload_deleted_while_settling_retrains_nothing(cloud: LocalCloud) -> None:
    name = incoming(cloud, "mistake.csv")
    with cloud.triggering() as session:
        session.upload(name)
        session.delete(name)
    (build,) = session.builds
    assert_ok([build])
    assert "no longer in the incoming folder" in settled(build)
    assert session.runs == []


def test_an_object_written_twice_retrains_once(cloud: LocalCloud) -> None:
    name = incoming(cloud, "fixed.csv")
    with cloud.triggering() as session:
        session.upload(name, b"mean radius,target\n14.1,0\n")
        session.upload(name, b"mean radius,target\n14.1,1\n")  # the corrected file
    first, second = session.builds
    assert_ok([first, second])
    assert first.substitutions["_OBJECT_GENERATION"] != second.substitutions["_OBJECT_GENERATION"]
    assert len(session.runs) == 1
    assert any("overwritten since this event" in settled(b) for b in (first, second))
