"""The Cloud Build configs: valid for Cloud Build, and doing what the CI/CD design says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cloudbuild_rules import build_values, depends_on, problems, referenced, substitute

REPO = Path(__file__).resolve().parents[2]
CLOUDBUILD = REPO / "deploy" / "cloudbuild"
FILES = sorted(CLOUDBUILD.glob("*.yaml"))
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def load(name: str) -> dict:
    return yaml.safe_load((CLOUDBUILD / name).read_text())


def step(config: dict, step_id: str) -> dict:
    return next(s for s in config["steps"] if s.get("id") == step_id)


def script(s: dict) -> str:
    """A step's command line as one string (entrypoint and args)."""
    return " ".join([s.get("entrypoint", ""), *s.get("args", [])])


def test_the_three_configs_exist() -> None:
    assert [f.name for f in FILES] == ["main.yaml", "monitor.yaml", "pr.yaml", "retrain.yaml"]


def test_every_config_passes_the_cloudbuild_schema() -> None:
    out = subprocess.run(
        [str(CHECK_JSONSCHEMA), "-o", "JSON", "--builtin-schema", "vendor.cloudbuild", *FILES],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == {"status": "ok", "errors": []}, out.stdout + out.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_config_passes_what_the_schema_misses(path: Path) -> None:
    assert problems(yaml.safe_load(path.read_text())) == []


# -- the extra rules catch what they claim to ----------------------------------------------

GOOD = {
    "steps": [{"id": "a", "name": "ubuntu", "args": ["echo", "$_X", "$$HOME", "$PROJECT_ID"]}],
    "substitutions": {"_X": "x"},
    "options": {"logging": "CLOUD_LOGGING_ONLY"},
}


def test_rules_accept_a_good_config() -> None:
    assert problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"step": []}, "unknown top-level key 'step'"),
        ({"steps": [{"id": "a", "args": ["$_X"]}]}, "has no name"),
        ({"steps": [{"name": "u", "args": ["$_X $image"]}]}, "$image is neither"),
        ({"steps": [{"name": "u", "args": ["$_X ${_Y}"]}]}, "$_Y is neither"),
        ({"steps": [{"id": "b", "name": "u", "args": ["$_X"], "waitFor": ["a"]}]}, "unknown"),
        ({"substitutions": {"_X": "x", "_UNUSED": "y"}}, "_UNUSED is defined but never used"),
        ({"substitutions": {"_X": "${PROJECT_ID}"}}, "without dynamicSubstitutions"),
        ({"options": {}}, "options.logging"),
        ({"steps": [{"name": "u", "args": ["$_X"], "secretEnv": ["TOKEN"]}]}, "availableSecrets"),
        (
            {"steps": [{"name": "u", "entrypoint": "bash", "args": ["-c", "echo ${_X}"]}]},
            "pastes $_X into a shell script",
        ),
        ({"steps": [{"name": "u", "args": ["sh", "-ec", "echo $_X"]}]}, "into a shell script"),
    ],
)
def test_rules_catch_each_mistake(change: dict, complaint: str) -> None:
    found = problems({**GOOD, **change})
    assert any(complaint in p for p in found), found


def test_escaped_dollars_are_not_substitutions() -> None:
    assert referenced("$$x $$(cat f) ${_A} $B $$$C") == {"_A", "B", "C"}


def test_substitution_is_one_pass_and_unescapes_dollars() -> None:
    values = {"_A": "x$(touch p)`id`$B", "B": "b"}
    assert substitute("$$x ${_A} $B-$$$B", values) == "$x x$(touch p)`id`$B b-$b"
    with pytest.raises(KeyError):
        substitute("$HOME", values)


def test_a_build_sees_defaults_overridden_by_the_trigger() -> None:
    config = {
        "substitutions": {"_BUCKET": "${PROJECT_ID}-data", "_X": "d"},
        "options": {"dynamicSubstitutions": True},
    }
    values = build_values(config, {"_X": "$PROJECT_ID"}, {"PROJECT_ID": "p"})
    assert values == {"PROJECT_ID": "p", "_BUCKET": "p-data", "_X": "$PROJECT_ID"}


def test_a_script_with_env_and_quoted_variables_passes() -> None:
    ok = {
        "name": "u",
        "entrypoint": "bash",
        "env": ["X=$_X"],
        "args": ["-c", 'echo "$$X"'],
    }
    assert problems({**GOOD, "steps": [ok]}) == []


# -- what each pipeline does ---------------------------------------------------------------


def test_pr_lints_tests_and_compiles_without_pushing_or_deploying() -> None:
    pr = load("pr.yaml")
    scripts = [script(s) for s in pr["steps"]]
    assert "make lint" in scripts
    assert any(".ci/run" in s for s in scripts)
    assert "make compile" in scripts
    assert not any("push" in s or "deploy" in s for s in scripts)
    assert "images" not in pr
    # Its account (mlcycle-pr) may write logs and nothing else: no secret, no Google API.
    assert "availableSecrets" not in pr
    assert not any("gcloud" in s for s in scripts)
    assert not any("secretEnv" in step for step in pr["steps"])


def test_main_deploys_only_tested_code_after_a_successful_training_run() -> None:
    main = load("main.yaml")
    ids = [s["id"] for s in main["steps"]]
    for needed in ("test", "push", "train", "deploy-api", "api-url", "deploy-ui"):
        assert needed in ids
    assert {"test", "build-pipeline", "build-api", "build-ui"} <= depends_on(main, "push")
    assert {"test", "push"} <= depends_on(main, "train")
    assert "train" in depends_on(main, "deploy-api")
    assert {"deploy-api", "api-url"} <= depends_on(main, "deploy-ui")
    # The moving tag retrain.yaml uses only ever names an image whose training run passed.
    assert "train" in depends_on(main, "tag-latest")


def test_main_builds_the_three_targets_tagged_with_the_commit() -> None:
    main = load("main.yaml")
    for target in ("pipeline", "api", "ui"):
        args = step(main, f"build-{target}")["args"]
        assert args[args.index("--target") + 1] == target
        tag = args[args.index("--tag") + 1]
        assert tag.endswith(f"/mlcycle-{target}:$SHORT_SHA")
        assert tag.startswith("${_REGION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/")
        assert tag in main["images"]


def test_main_trains_in_the_pushed_image_and_waits() -> None:
    train = step(load("main.yaml"), "train")
    image = "${_REGION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/mlcycle-pipeline:$SHORT_SHA"
    assert train["name"] == image
    args = train["args"]
    assert args[0] == "submit"
    assert args[args.index("--image") + 1] == image
    assert args[args.index("--root") + 1] == "gs://${_BUCKET}/${_PREFIX}"
    assert "--wait" in args


def test_main_reads_the_api_url_from_cloud_run_and_hands_it_to_the_ui() -> None:
    main = load("main.yaml")
    url = script(step(main, "api-url"))
    assert "gcloud run services describe mlcycle-api" in url
    assert "--format='value(status.url)'" in url
    assert "> /workspace/api_url" in url
    assert "sleep" not in url and "list" not in url
    ui = script(step(main, "deploy-ui"))
    assert "deploy/cloudrun/deploy.sh ui" in ui
    assert '--api-url "$$(cat /workspace/api_url)"' in ui


def test_retrain_submits_the_pipeline_pinned_to_a_digest_and_deploys_nothing() -> None:
    retrain = load("retrain.yaml")
    train = script(step(retrain, "train"))
    assert "mlcycle submit" in train and "--wait" in train
    assert '--image "$$(cat /workspace/pipeline_image)"' in train
    assert "@$$digest" in script(step(retrain, "resolve-image"))
    assert not any("deploy" in script(s) for s in retrain["steps"])
    # The Pub/Sub trigger maps the notification's attributes onto these.
    assert set(retrain["substitutions"]) >= UPLOADER


# The notification's values: whatever the uploader named the object.
UPLOADER = {"_EVENT_TYPE", "_BUCKET_ID", "_OBJECT_ID", "_OBJECT_GENERATION"}


def test_monitor_retrains_once_per_drift_report_and_deploys_nothing() -> None:
    monitor = load("monitor.yaml")
    check = script(step(monitor, "monitor"))
    assert "mlcycle monitor" in check and "--once" in check  # exit 4 once per report
    assert "== 4 ]]" in check and "> /workspace/retrain" in check
    train = script(step(monitor, "train"))
    assert "mlcycle submit" in train and '--image "$$(cat /workspace/pipeline_image)"' in train
    assert "@$$digest" in script(step(monitor, "resolve-image"))
    for later in monitor["steps"][1:]:
        assert script(later).split("\n")[1].startswith("[[ -e /workspace/retrain ]] || {")
    assert not any("deploy" in script(s) for s in monitor["steps"])


@pytest.mark.parametrize(
    ("code", "build", "retrains"), [(0, 0, False), (4, 0, True), (1, 1, False)]
)
def test_the_monitor_step_retrains_on_exit_4_and_fails_when_it_cannot_measure(
    tmp_path: Path, code: int, build: int, retrains: bool
) -> None:
    """The step's script, run by bash with a stand-in `mlcycle` that exits `code`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mlcycle"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\nexit {code}\n')
    fake.chmod(0o755)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    text = step(load("monitor.yaml"), "monitor")["args"][1]
    text = text.replace("$$", "$").replace("/workspace", str(workspace))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "ROOT": "gs://b/p", "CONFIG": "c.yaml"}
    run = subprocess.run(["bash", "-c", text], env={**env, "SINCE": "24h"}, timeout=30)
    assert run.returncode == build
    assert (workspace / "retrain").exists() == retrains
    args = (tmp_path / "args").read_text().split()
    expected = "monitor --root gs://b/p --config c.yaml --since 24h --once"
    assert args == expected.split()


def test_retrain_hands_the_uploaders_values_to_mlcycle_alone() -> None:
    # Exec-style arguments of a program that is no shell: nothing parses them as code. (The
    # general rule, that no script holds a substitution, is in cloudbuild_rules.problems.)
    for s in load("retrain.yaml")["steps"]:
        if referenced(" ".join([*s.get("args", []), *s.get("env", [])])) & UPLOADER:
            assert s["entrypoint"] == "mlcycle", s["id"]


def test_retrain_settles_first_and_every_later_step_obeys_it() -> None:
    retrain = load("retrain.yaml")
    first, *later = retrain["steps"]
    assert first["id"] == "settle" and first["entrypoint"] == "mlcycle"
    args = first["args"]
    assert args[:2] == ["settle", "gs://${_BUCKET_ID}/${_OBJECT_ID}"]  # one argument
    assert "--event-type=${_EVENT_TYPE}" in args
    assert "--generation=${_OBJECT_GENERATION}" in args
    assert "--root=gs://${_BUCKET}/${_PREFIX}" in args
    assert "--seconds=${_SETTLE_SECONDS}" in args
    assert args[args.index("--mark") + 1] == "/workspace/retrain"
    assert int(retrain["substitutions"]["_SETTLE_SECONDS"]) >= 30
    for s in later:  # no waitFor: each waits for the steps before it
        assert "waitFor" not in s
        assert script(s).split("\n")[1].startswith("[[ -e /workspace/retrain ]] || {"), s["id"]
