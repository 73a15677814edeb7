"""deploy/gcp/bootstrap.sh, deploy/gcp/vm.sh and deploy/cloudrun/deploy.sh, through their dry runs.

A dry run prints each gcloud command it would run, one shell-quoted line each; these tests
read those commands back. Where the Google Cloud CLI is installed, each distinct command (and
those the Cloud Build steps run) is also put through gcloud's own argument parser, with no
account (see `test_gcloud_accepts_every_command`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from cloudbuild_rules import build_values, substitute

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "deploy" / "gcp" / "bootstrap.sh"
DEPLOY = REPO / "deploy" / "cloudrun" / "deploy.sh"
VM = REPO / "deploy" / "gcp" / "vm.sh"
VM_STARTUP = REPO / "deploy" / "gcp" / "vm-startup.sh"
SHELLCHECK = Path(sys.executable).with_name("shellcheck")
PROJECT, REGION = "acme-ml", "europe-west1"
ZONE = f"{REGION}-b"
GITHUB = "https://github.com/acme/mlcycle.git"


def gcloud_trap(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `gcloud` only records that it was called (and fails)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "gcloud-calls"
    bin_dir.mkdir()
    fake = bin_dir / "gcloud"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}, calls


def dry_run(
    script: Path, *args: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess:
    out = subprocess.run(
        ["bash", str(script), *args, "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def commands(out: subprocess.CompletedProcess) -> list[list[str]]:
    lines = (out.stdout + out.stderr).splitlines()
    return [shlex.split(line) for line in lines if line.startswith("gcloud ")]


def hints(out: subprocess.CompletedProcess) -> list[list[str]]:
    """The gcloud commands a script prints for its user to run (indented, in its summary)."""
    lines = out.stdout.splitlines()
    return [shlex.split(line) for line in lines if line.startswith("  gcloud ")]


def flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def find(cmds: list[list[str]], *prefix: str) -> list[list[str]]:
    return [c for c in cmds if c[: len(prefix)] == list(prefix)]


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    env, calls = gcloud_trap(tmp_path_factory.mktemp("bootstrap"))
    out = dry_run(BOOTSTRAP, PROJECT, REGION, env={**env, "GITHUB_URI": GITHUB})
    assert not calls.exists(), f"a dry run called gcloud: {calls.read_text()}"
    return commands(out)


def grants(cmds: list[list[str]], member: str) -> set[tuple[str, str]]:
    """(resource, role) pairs granted to `member`."""
    out = set()
    for c in cmds:
        if "add-iam-policy-binding" in c and flag(c, "--member") == f"serviceAccount:{member}":
            out.add((" ".join(c[1 : c.index("add-iam-policy-binding") + 2]), flag(c, "--role")))
    return out


# -- shellcheck ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [*sorted((REPO / "deploy").rglob("*.sh")), *sorted((REPO / "scripts").glob("*.sh"))],
    ids=lambda p: p.name,
)
def test_shellcheck_passes(script: Path) -> None:
    # JSON output: an empty list of comments is shellcheck's own word that it read the script.
    out = subprocess.run(
        [str(SHELLCHECK), "--severity=style", "--format=json1", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(out.stdout)["comments"] == [], out.stdout
    assert out.returncode == 0, out.stderr


def test_shellcheck_covers_the_deploy_scripts() -> None:
    checked = {p.name for p in (REPO / "deploy").rglob("*.sh")}
    assert {"bootstrap.sh", "deploy.sh", "vm.sh", "vm-startup.sh"} <= checked


# -- bootstrap.sh creates every resource ---------------------------------------------------


def test_bootstrap_enables_the_apis(bootstrap: list[list[str]]) -> None:
    (enable,) = find(bootstrap, "gcloud", "services", "enable")
    for api in (
        "cloudbuild",
        "secretmanager",
        "run",
        "artifactregistry",
        "aiplatform",
        "pubsub",
        "storage",
        "iam",
    ):
        assert f"{api}.googleapis.com" in enable


def test_bootstrap_creates_bucket_repository_accounts_secret_and_topic(
    bootstrap: list[list[str]],
) -> None:
    (bucket,) = find(bootstrap, "gcloud", "storage", "buckets", "create")
    assert bucket[4] == f"gs://{PROJECT}-mlcycle"
    assert flag(bucket, "--location") == REGION
    assert "--uniform-bucket-level-access" in bucket
    (repo,) = find(bootstrap, "gcloud", "artifacts", "repositories", "create")
    assert repo[4] == "mlcycle" and flag(repo, "--repository-format") == "docker"
    accounts = {c[4] for c in find(bootstrap, "gcloud", "iam", "service-accounts", "create")}
    assert accounts == {f"mlcycle-{n}" for n in ("pipeline", "build", "pr", "api", "ui")}
    secrets = {c[3] for c in find(bootstrap, "gcloud", "secrets", "create")}
    assert secrets == {"mlcycle-admin-token", "mlcycle-ui-secret-key"}
    (topic,) = find(bootstrap, "gcloud", "pubsub", "topics", "create")
    assert topic[4] == "mlcycle-incoming"


def sa(name: str) -> str:
    return f"mlcycle-{name}@{PROJECT}.iam.gserviceaccount.com"


def test_bootstrap_grants_least_privilege_roles(bootstrap: list[list[str]]) -> None:
    bucket = f"storage buckets add-iam-policy-binding gs://{PROJECT}-mlcycle"
    assert grants(bootstrap, sa("pipeline")) == {
        (f"projects add-iam-policy-binding {PROJECT}", "roles/aiplatform.user"),
        (bucket, "roles/storage.objectUser"),
    }
    assert grants(bootstrap, sa("api")) == {
        (bucket, "roles/storage.objectViewer"),
        (
            "secrets add-iam-policy-binding mlcycle-admin-token",
            "roles/secretmanager.secretAccessor",
        ),
    }
    assert grants(bootstrap, sa("ui")) == {
        (
            "secrets add-iam-policy-binding mlcycle-ui-secret-key",
            "roles/secretmanager.secretAccessor",
        ),
    }
    build = grants(bootstrap, sa("build"))
    # The builder may act as exactly the three runtime accounts, not as any account.
    acts_as = {res.split()[-1] for res, role in build if role == "roles/iam.serviceAccountUser"}
    assert acts_as == {sa("pipeline"), sa("api"), sa("ui")}
    roles = {role for _, role in build}
    assert {"roles/run.admin", "roles/aiplatform.user", "roles/artifactregistry.writer"} <= roles
    assert tuple(res for res, role in build if role == "roles/artifactregistry.writer") == (
        "artifacts repositories add-iam-policy-binding mlcycle",
    )
    every_role = {flag(c, "--role") for c in bootstrap if "--role" in c}
    assert not every_role & {"roles/owner", "roles/editor", "roles/storage.admin"}


def test_pull_request_builds_can_write_logs_and_nothing_else(bootstrap: list[list[str]]) -> None:
    """pr.yaml runs the PR's own code: its account must not be able to push an image (the
    `latest` the data trigger trains with), deploy, submit a run, act as another account or
    read a secret."""
    pr = grants(bootstrap, sa("pr"))
    assert pr == {(f"projects add-iam-policy-binding {PROJECT}", "roles/logging.logWriter")}
    forbidden = re.compile(
        r"artifactregistry\.(writer|admin|repoAdmin)|run\.|aiplatform\.|secretmanager\."
        r"|iam\.serviceAccount(User|TokenCreator|Admin)|storage\.|owner|editor|cloudbuild\."
    )
    # Should the exact set above ever grow, these must still never appear.
    assert not [role for _, role in pr if forbidden.search(role)]


def test_bootstrap_notifies_only_for_the_incoming_prefix(bootstrap: list[list[str]]) -> None:
    (note,) = find(bootstrap, "gcloud", "storage", "buckets", "notifications", "create")
    assert note[5] == f"gs://{PROJECT}-mlcycle"
    assert flag(note, "--topic") == f"projects/{PROJECT}/topics/mlcycle-incoming"
    assert flag(note, "--event-types") == "OBJECT_FINALIZE"
    assert flag(note, "--object-prefix") == "mlcycle/data/incoming/"
    (publisher,) = find(bootstrap, "gcloud", "pubsub", "topics", "add-iam-policy-binding")
    assert flag(publisher, "--role") == "roles/pubsub.publisher"


def test_bootstrap_creates_the_three_triggers(bootstrap: list[list[str]]) -> None:
    assert find(bootstrap, "gcloud", "builds", "connections", "create", "github")
    (repo,) = find(bootstrap, "gcloud", "builds", "repositories", "create")
    assert flag(repo, "--remote-uri") == GITHUB
    triggers = {flag(c, "--name"): c for c in find(bootstrap, "gcloud", "builds", "triggers")}
    assert set(triggers) == {"mlcycle-pr", "mlcycle-main", "mlcycle-retrain"}
    pr, main, retrain = (triggers[f"mlcycle-{n}"] for n in ("pr", "main", "retrain"))
    assert pr[4] == "github" and flag(pr, "--pull-request-pattern") == "^main$"
    assert main[4] == "github" and flag(main, "--branch-pattern") == "^main$"
    assert retrain[4] == "pubsub"
    assert flag(retrain, "--topic") == f"projects/{PROJECT}/topics/mlcycle-incoming"
    account = f"projects/{PROJECT}/serviceAccounts/{{}}"
    for trigger in (main, retrain):
        assert flag(trigger, "--service-account") == account.format(sa("build"))
    assert flag(pr, "--service-account") == account.format(sa("pr"))
    # Explicit (gcloud's default holds every PR for a comment): collaborators' PRs build at
    # once, anyone else's after an owner or collaborator comments /gcbrun.
    assert flag(pr, "--comment-control") == "COMMENTS_ENABLED_FOR_EXTERNAL_CONTRIBUTORS_ONLY"
    for trigger in (pr, main, retrain):
        assert (REPO / flag(trigger, "--build-config")).is_file()
    assert flag(retrain, "--build-config") == "deploy/cloudbuild/retrain.yaml"
    subs = dict(s.split("=", 1) for s in flag(retrain, "--substitutions").split(","))
    assert subs["_OBJECT_ID"] == "$(body.message.attributes.objectId)"
    assert subs["_EVENT_TYPE"] == "$(body.message.attributes.eventType)"
    assert subs["_OBJECT_GENERATION"] == "$(body.message.attributes.objectGeneration)"
    assert flag(retrain, "--subscription-filter") == (
        '_EVENT_TYPE == "OBJECT_FINALIZE" && _OBJECT_ID.matches("^mlcycle/data/incoming/")'
    )


def test_trigger_substitutions_are_ones_the_build_configs_declare(
    bootstrap: list[list[str]],
) -> None:
    # Cloud Build refuses a build that is given a substitution its config does not use.
    for trigger in find(bootstrap, "gcloud", "builds", "triggers"):
        if "--substitutions" not in trigger:
            continue
        config = yaml.safe_load((REPO / flag(trigger, "--build-config")).read_text())
        given = {s.split("=", 1)[0] for s in flag(trigger, "--substitutions").split(",")}
        assert given <= set(config["substitutions"]), flag(trigger, "--name")


def test_bootstrap_honours_bucket_and_prefix(tmp_path: Path) -> None:
    env, _ = gcloud_trap(tmp_path)
    env |= {"GITHUB_URI": GITHUB, "BUCKET": "shared-bucket", "PREFIX": "teams/ml"}
    cmds = commands(dry_run(BOOTSTRAP, PROJECT, REGION, env=env))
    (note,) = find(cmds, "gcloud", "storage", "buckets", "notifications", "create")
    assert note[5] == "gs://shared-bucket"
    assert flag(note, "--object-prefix") == "teams/ml/data/incoming/"
    (retrain,) = [c for c in cmds if "pubsub" in c and "triggers" in c]
    assert '"^teams/ml/data/incoming/"' in flag(retrain, "--subscription-filter")


def test_bootstrap_without_a_repository_stops_before_the_triggers(tmp_path: Path) -> None:
    env, _ = gcloud_trap(tmp_path)
    out = dry_run(BOOTSTRAP, PROJECT, REGION, env=env)
    assert not find(commands(out), "gcloud", "builds")
    assert "GITHUB_URI" in out.stdout


def test_bootstrap_refuses_bad_usage(tmp_path: Path) -> None:
    env, _ = gcloud_trap(tmp_path)
    assert dry_run(BOOTSTRAP, PROJECT, env=env, check=False).returncode == 2
    assert dry_run(BOOTSTRAP, PROJECT, REGION, "--force", env=env, check=False).returncode == 2


# -- deploy.sh: the Cloud Run services -----------------------------------------------------


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    env, calls = gcloud_trap(tmp_path_factory.mktemp("deploy"))
    common = ("--project", PROJECT, "--region", REGION)
    api = dry_run(DEPLOY, "api", *common, "--image", "reg/api:1", "--root", "gs://b/m", env=env)
    ui = dry_run(
        DEPLOY, "ui", *common, "--image", "reg/ui:1", "--api-url", "https://api.run.app", env=env
    )
    assert not calls.exists()
    ((api_cmd,), (ui_cmd,)) = commands(api), commands(ui)
    return {"api": api_cmd, "ui": ui_cmd}


def test_both_services_are_public_scale_to_zero_and_capped(services: dict) -> None:
    for name, cmd in services.items():
        assert cmd[:4] == ["gcloud", "run", "deploy", f"mlcycle-{name}"]
        assert "--allow-unauthenticated" in cmd
        assert flag(cmd, "--min-instances") == "0"
        assert 1 <= int(flag(cmd, "--max-instances")) <= 10
        assert int(flag(cmd, "--concurrency")) >= 1
        assert flag(cmd, "--cpu") and flag(cmd, "--memory")
        assert flag(cmd, "--port") == "8080"
        assert flag(cmd, "--service-account") == f"mlcycle-{name}@{PROJECT}.iam.gserviceaccount.com"


def test_api_gets_the_bucket_root_and_the_token_from_secret_manager(services: dict) -> None:
    api = services["api"]
    assert flag(api, "--image") == "reg/api:1"
    assert flag(api, "--set-env-vars") == "MLCYCLE_ROOT=gs://b/m"
    assert flag(api, "--set-secrets") == "MLCYCLE_ADMIN_TOKEN=mlcycle-admin-token:latest"


def test_ui_gets_the_api_url_and_one_key_for_every_instance(services: dict) -> None:
    ui = services["ui"]
    assert (
        flag(ui, "--set-env-vars") == "MLCYCLE_API_URL=https://api.run.app,MLCYCLE_UI_PROXY_HOPS=1"
    )
    assert flag(ui, "--set-secrets") == "MLCYCLE_UI_SECRET_KEY=mlcycle-ui-secret-key:latest"


def test_each_service_reads_only_secrets_bootstrap_made_and_let_it_read(
    bootstrap: list[list[str]], services: dict
) -> None:
    created = {c[3] for c in find(bootstrap, "gcloud", "secrets", "create")}
    for name, cmd in services.items():
        wanted = {v.split("=", 1)[1].split(":")[0] for v in flag(cmd, "--set-secrets").split(",")}
        assert wanted <= created, name
        readable = {
            res.split()[-1]
            for res, role in grants(bootstrap, flag(cmd, "--service-account"))
            if role == "roles/secretmanager.secretAccessor"
        }
        assert readable == wanted, name


@pytest.mark.parametrize(
    "args",
    [
        ["api", "--project", "p", "--region", "r", "--image", "i"],  # no --root
        ["api", "--project", "p", "--region", "r", "--image", "i", "--root", "/local"],
        ["ui", "--project", "p", "--region", "r", "--image", "i"],  # no --api-url
        ["db", "--project", "p", "--region", "r", "--image", "i"],
        ["api", "--region", "r", "--image", "i", "--root", "gs://b"],  # no --project
    ],
)
def test_deploy_refuses_incomplete_arguments(tmp_path: Path, args: list[str]) -> None:
    env, calls = gcloud_trap(tmp_path)
    assert dry_run(DEPLOY, *args, env=env, check=False).returncode == 2
    assert not calls.exists()


# -- vm.sh: the working VM -------------------------------------------------------------------


def vm_dry_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env, calls = gcloud_trap(tmp_path)
    out = dry_run(VM, PROJECT, ZONE, *args, env=env)
    assert not calls.exists(), f"a dry run called gcloud: {calls.read_text()}"
    return out


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    return vm_dry_run(tmp_path_factory.mktemp("vm"))


@pytest.fixture(scope="module")
def public_vm(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    return vm_dry_run(tmp_path_factory.mktemp("vm-public"), "--public")


def instance(out: subprocess.CompletedProcess) -> list[str]:
    (create,) = find(commands(out), "gcloud", "compute", "instances", "create")
    return create


def metadata(create: list[str]) -> dict[str, str]:
    """The VM's metadata: key -> value, or -> the file its value is read from."""
    pairs = [
        *flag(create, "--metadata").split(","),
        *flag(create, "--metadata-from-file").split(","),
    ]
    return dict(pair.split("=", 1) for pair in pairs)


def firewall_rules(out: subprocess.CompletedProcess) -> dict[str, list[str]]:
    rules = find(commands(out), "gcloud", "compute", "firewall-rules", "create")
    return {rule[4]: rule for rule in rules}


def test_the_vm_is_small_debian_12_and_runs_as_the_pipeline_account(
    vm: subprocess.CompletedProcess, bootstrap: list[list[str]]
) -> None:
    create = instance(vm)
    assert create[4] == "mlcycle-vm" and flag(create, "--zone") == ZONE
    assert flag(create, "--machine-type") == "e2-standard-2"
    assert flag(create, "--boot-disk-size") == "30GB"
    # Debian 12: the OS whose docker.io and docker-compose the container tier installs.
    assert flag(create, "--image-family") == "debian-12"
    assert flag(create, "--image-project") == "debian-cloud"
    assert flag(create, "--service-account") == sa("pipeline")
    assert ["gcloud", "iam", "service-accounts", "create", "mlcycle-pipeline"] in [
        c[:5] for c in bootstrap
    ]
    # The account's roles limit it; the scope only lets it use them.
    assert flag(create, "--scopes") == "cloud-platform"
    assert "--shielded-secure-boot" in create


def test_the_vm_s_metadata_carries_every_setting_the_startup_script_reads(
    vm: subprocess.CompletedProcess,
) -> None:
    meta = metadata(instance(vm))
    assert Path(meta["startup-script"]) == VM_STARTUP
    assert Path(meta["mlcycle-compose"]) == REPO / "docker-compose.yml"
    assert Path(meta["mlcycle-compose-vm"]) == REPO / "deploy" / "gcp" / "vm-compose.yml"
    assert Path(meta["mlcycle-compose-public"]) == REPO / "deploy" / "gcp" / "vm-public.yml"
    startup = VM_STARTUP.read_text()
    read = set(re.findall(r"^setting \w+ (mlcycle-[\w-]+)", startup, re.M))
    read |= set(re.findall(r"^\s*fetch (mlcycle-[\w-]+)", startup, re.M))
    assert read == {key for key in meta if key.startswith("mlcycle-")}
    assert meta["mlcycle-root"] == f"gs://{PROJECT}-mlcycle/mlcycle"  # bootstrap's bucket
    assert meta["mlcycle-public"] == "false"
    assert meta["enable-oslogin"] == "TRUE"


def test_the_vm_pulls_from_where_main_s_build_pushes(vm: subprocess.CompletedProcess) -> None:
    config = yaml.safe_load((REPO / "deploy" / "cloudbuild" / "main.yaml").read_text())
    subs = build_values(
        config, {"_REGION": REGION}, {"PROJECT_ID": PROJECT, "SHORT_SHA": "abc1234"}
    )
    (push,) = [step for step in config["steps"] if step.get("id") == "push"]
    env = dict(substitute(e, subs).split("=", 1) for e in push["env"])
    assert metadata(instance(vm))["mlcycle-images"] == env["REPO"]
    # No --tag: the newest mlcycle-ui image's tag (main pushes the three with one tag).
    (lookup,) = find(commands(vm), "gcloud", "artifacts", "docker", "images", "list")
    assert lookup[5] == f"{env['REPO']}/mlcycle-ui"
    assert "--include-tags" in lookup


def test_only_iap_reaches_the_vm_and_it_has_no_external_address(
    vm: subprocess.CompletedProcess,
) -> None:
    create = instance(vm)
    assert "--no-address" in create
    rules = firewall_rules(vm)
    assert list(rules) == ["mlcycle-allow-iap-ssh"]
    ssh = rules["mlcycle-allow-iap-ssh"]
    assert flag(ssh, "--rules") == "tcp:22"
    assert flag(ssh, "--source-ranges") == "35.235.240.0/20"  # IAP's TCP forwarding
    assert flag(ssh, "--target-tags") in flag(create, "--tags").split(",")
    assert not [c for c in commands(vm) if "0.0.0.0/0" in c]
    # Out (Debian's packages) through Cloud NAT; Google's APIs by Private Google Access.
    (subnet,) = find(commands(vm), "gcloud", "compute", "networks", "subnets", "create")
    assert "--enable-private-ip-google-access" in subnet
    assert flag(create, "--subnet") == subnet[5]
    assert find(commands(vm), "gcloud", "compute", "routers", "nats", "create")


def test_public_opens_exactly_the_ports_vm_public_yml_publishes(
    public_vm: subprocess.CompletedProcess,
) -> None:
    create = instance(public_vm)
    assert "--no-address" not in create
    assert metadata(create)["mlcycle-public"] == "true"
    rules = firewall_rules(public_vm)
    assert set(rules) == {"mlcycle-allow-iap-ssh", "mlcycle-allow-public-web"}
    assert flag(rules["mlcycle-allow-iap-ssh"], "--source-ranges") == "35.235.240.0/20"
    web = rules["mlcycle-allow-public-web"]
    public = yaml.safe_load((REPO / "deploy" / "gcp" / "vm-public.yml").read_text())
    published = {
        port.split(":")[0] for service in public["services"].values() for port in service["ports"]
    }
    assert set(flag(web, "--rules").split(",")) == {f"tcp:{port}" for port in published}
    assert flag(web, "--target-tags") in flag(create, "--tags").split(",")
    assert flag(rules["mlcycle-allow-iap-ssh"], "--target-tags") in flag(create, "--tags")


def test_the_vm_adds_only_pull_bucket_check_and_act_as_itself_to_the_pipeline_account(
    vm: subprocess.CompletedProcess,
) -> None:
    assert grants(commands(vm), sa("pipeline")) == {
        ("artifacts repositories add-iam-policy-binding mlcycle", "roles/artifactregistry.reader"),
        (
            f"storage buckets add-iam-policy-binding gs://{PROJECT}-mlcycle",
            "roles/storage.legacyBucketReader",
        ),
        (
            f"iam service-accounts add-iam-policy-binding {sa('pipeline')}",
            "roles/iam.serviceAccountUser",
        ),
    }


def test_vm_options_are_honoured(tmp_path: Path) -> None:
    out = vm_dry_run(
        tmp_path, "--name", "lab", "--machine-type", "e2-standard-4", "--disk-size", "50",
        "--tag", "abc1234",
    )  # fmt: skip
    create = instance(out)
    assert create[4] == "lab"
    assert flag(create, "--machine-type") == "e2-standard-4"
    assert flag(create, "--boot-disk-size") == "50GB"
    assert metadata(create)["mlcycle-image-tag"] == "abc1234"
    assert not find(commands(out), "gcloud", "artifacts", "docker")  # no lookup of a tag
    (delete,) = find(hints(out), "gcloud", "compute", "instances", "delete")
    assert delete[4] == "lab"


def test_vm_prints_the_iap_tunnel_to_the_compose_ports_and_how_to_delete_it(
    vm: subprocess.CompletedProcess,
) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    ports = {  # "127.0.0.1:${MLCYCLE_UI_PORT:-8081}:8080" -> 8081
        name: re.search(r":-(\d+)\}", compose[name]["ports"][0]).group(1) for name in ("api", "ui")
    }
    tunnels = [c for c in find(hints(vm), "gcloud", "compute", "ssh") if "-L" in c]
    (tunnel,) = tunnels
    assert tunnel[3] == "mlcycle-vm" and "--tunnel-through-iap" in tunnel
    assert flag(tunnel, "--zone") == ZONE
    forwards = {tunnel[i + 1] for i, word in enumerate(tunnel) if word == "-L"}
    assert forwards == {f"{p}:127.0.0.1:{p}" for p in ports.values()}
    (delete,) = find(hints(vm), "gcloud", "compute", "instances", "delete")
    assert delete[4] == "mlcycle-vm" and flag(delete, "--zone") == ZONE


def test_vm_run_again_creates_nothing_and_updates_the_vm_s_settings(tmp_path: Path) -> None:
    """A real (not dry) run where every resource exists already: a `gcloud` that finds
    everything, records each call, and knows one image tag."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "gcloud-calls"
    bin_dir.mkdir()
    fake = bin_dir / "gcloud"
    fake.write_text(
        f"#!/bin/bash\nprintf '%q ' \"$@\" >> {calls}; echo >> {calls}\n"
        '[[ "$*" == "artifacts docker images list"* ]] && echo "abc1234"\nexit 0\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(
        ["bash", str(VM), PROJECT, ZONE], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    cmds = [shlex.split(line) for line in calls.read_text().splitlines()]
    assert not [c for c in cmds if "create" in c[:5]]
    (update,) = find(
        [["gcloud", *c] for c in cmds], "gcloud", "compute", "instances", "add-metadata"
    )
    assert metadata(update)["mlcycle-image-tag"] == "abc1234"
    assert "mlcycle-public" not in metadata(update)  # decided with the VM's address
    assert "exists" in out.stdout


@pytest.mark.parametrize(
    "args",
    [
        [PROJECT],  # no zone
        [PROJECT, REGION],  # a region is not a zone
        [PROJECT, ZONE, "--disk-size", "big"],
        [PROJECT, ZONE, "--name"],  # no value
        [PROJECT, ZONE, "--force"],
    ],
)
def test_vm_refuses_bad_usage(tmp_path: Path, args: list[str]) -> None:
    env, calls = gcloud_trap(tmp_path)
    assert dry_run(VM, *args, env=env, check=False).returncode == 2
    assert not calls.exists()


# -- the real gcloud parses every command (where it is installed) --------------------------


def _shapes(cmds: list[list[str]]) -> list[list[str]]:
    """One command per command group and set of flags: the rest differ only in values."""
    seen, out = set(), []
    for cmd in cmds:
        key = (tuple(cmd[1:4]), frozenset(w for w in cmd if w.startswith("--")))
        if key not in seen:
            seen.add(key)
            out.append(cmd)
    return out


def cloudbuild_gcloud_commands() -> list[list[str]]:
    """The gcloud commands the Cloud Build steps run, with substitutions filled in as
    Cloud Build would (defaults, built-ins) and the scripts' variables given the values the
    steps' `env` sets."""
    built_ins = {"PROJECT_ID": PROJECT, "SHORT_SHA": "abc1234", "COMMIT_SHA": "abc1234" * 5}
    out = []
    for path in sorted((REPO / "deploy" / "cloudbuild").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        subs = build_values(config, {"_REGION": REGION}, built_ins)
        for step in config["steps"]:
            env = dict(substitute(e, subs).split("=", 1) for e in step.get("env", []))
            text = substitute(" ".join(step.get("args", [])).replace("\\\n", " "), subs)
            text = re.sub(
                r"\$\{?(\w+)\}?", lambda m, env=env: env.get(m.group(1), m.group(0)), text
            )
            for line in text.splitlines():
                before, found, command = line.partition("gcloud ")
                if not found:
                    continue
                command = (found + command).split(" > ")[0].strip()
                if before.endswith("$("):  # x=$(gcloud ...): drop the closing parenthesis
                    command = command.removesuffix(")")
                out.append(shlex.split(command))
    return out


def test_the_cloud_build_steps_gcloud_commands_are_found() -> None:
    found = {" ".join(c[:4]) for c in cloudbuild_gcloud_commands()}
    assert found == {"gcloud run services describe", "gcloud artifacts docker images"}


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="the Google Cloud CLI is not installed")
def test_gcloud_accepts_every_command(
    bootstrap: list[list[str]],
    services: dict,
    vm: subprocess.CompletedProcess,
    public_vm: subprocess.CompletedProcess,
    tmp_path: Path,
) -> None:
    """gcloud parses its arguments before it looks for an account: with no account at all,
    a command it accepts fails with 'no active account' (exit 1), one it rejects with a usage
    error (exit 2). Nothing reaches Google. This checks flags and values gcloud validates
    locally, not what only the server checks (IAM role names, filter semantics)."""
    token = tmp_path / "token"
    token.write_text("x")
    env = {  # a fresh config and no credentials of any kind
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
    }

    def parse(cmd: list[str]) -> tuple[str, int, str]:
        if "--data-file" in cmd:  # the dry run's token file is gone by now
            cmd = [*cmd]
            cmd[cmd.index("--data-file") + 1] = str(token)
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        return shlex.join(cmd), out.returncode, out.stderr

    with ThreadPoolExecutor(max_workers=3) as pool:
        every = [*bootstrap, *services.values(), *cloudbuild_gcloud_commands()]
        # vm.sh's commands, and those it prints for its user (the tunnel, the clean-up).
        every += [*commands(vm), *commands(public_vm), *hints(vm), *hints(public_vm)]
        results = list(pool.map(parse, _shapes(every)))
    rejected = [
        f"{cmd}\n  -> exit {rc}: {err.strip()[:300]}"
        for cmd, rc, err in results
        if rc != 1 or "do not currently have an active account" not in err
    ]
    assert not rejected, "\n".join(rejected)
    assert len(results) >= 35
