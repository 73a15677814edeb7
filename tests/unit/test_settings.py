"""Settings: every variable read in mlcycle.settings, `.env` honoured everywhere, and the
documentation (.env.example, the README's table) in step with the classes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from mlcycle.settings import (
    SECTIONS,
    ApiSettings,
    Platform,
    Settings,
    UiSettings,
    env_names,
    get_platform,
    get_settings,
)

REPO = Path(__file__).resolve().parents[2]
PLATFORM_VARIABLES = env_names(Platform)


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder is an empty tmp folder, and no mlcycle or platform variable is set."""
    monkeypatch.chdir(tmp_path)
    for section in SECTIONS:
        for name in env_names(section):
            monkeypatch.delenv(name, raising=False)
    return tmp_path


def every_variable() -> set[str]:
    return {name for section in SECTIONS for name in env_names(section)}


# -- the two bugs: a value in .env was ignored -----------------------------------------------


def test_the_ui_secret_in_dotenv_signs_every_worker_s_sessions(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlcycle.ui import server
    from mlcycle.ui.app import create_app

    key = "k" * 40
    (in_folder / ".env").write_text(f"MLCYCLE_UI_SECRET_KEY={key}\n")
    started: list[dict[str, Any]] = []

    class Gunicorn:  # stands in for gunicorn: what each worker's app would be built from
        def __init__(self, options: dict[str, Any], app_config: dict[str, Any]) -> None:
            started.append(app_config)

        def run(self) -> None:
            pass

    monkeypatch.setattr(server, "_Gunicorn", Gunicorn)
    server.run_ui(server.Bind("127.0.0.1", 0))
    [app_config] = started
    assert create_app(app_config).config["SECRET_KEY"] == key  # not a random one


def test_a_ui_without_a_secret_shares_one_random_key_across_its_workers(
    in_folder: Path,
) -> None:
    from mlcycle.ui.server import app_config

    made = app_config(UiSettings())["SECRET_KEY"]
    assert len(made) == 64 and made != app_config(UiSettings())["SECRET_KEY"]
    assert "SECRET_KEY" not in app_config(UiSettings(ui_secret_key="s" * 32))
    assert "SECRET_KEY" in app_config(UiSettings(ui_secret_key=""))  # empty: as unset


def test_mlcycle_host_in_dotenv_is_where_the_api_binds(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from mlcycle import cli

    (in_folder / ".env").write_text(f"MLCYCLE_HOST=127.0.0.2\nMLCYCLE_ROOT={in_folder}/r\n")
    bound: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: bound.append(options))
    out = CliRunner().invoke(cli.app, ["serve"])
    assert out.exit_code == 0, out.output
    assert bound[0]["host"] == "127.0.0.2" and bound[0]["port"] == 8080
    assert f"http://127.0.0.2:8080 (registry {in_folder}/r)" in " ".join(out.output.split())
    # --host still wins.
    out = CliRunner().invoke(cli.app, ["serve", "--host", "127.0.0.3"])
    assert out.exit_code == 0 and bound[1]["host"] == "127.0.0.3"


def test_the_api_app_s_default_serving_reads_dotenv_too(in_folder: Path) -> None:
    from mlcycle.api.serving import resolve_serving

    (in_folder / ".env").write_text("MLCYCLE_HOST=10.0.0.9\n")
    assert resolve_serving(ApiSettings(), get_platform()).host == "10.0.0.9"


# -- where the values come from --------------------------------------------------------------


def test_platform_variables_come_from_the_environment_only(
    in_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_folder / ".env").write_text("PORT=9999\nWEB_CONCURRENCY=7\n")
    assert get_platform().port is None and get_platform().web_concurrency == 2
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("AIP_HEALTH_ROUTE", "")  # empty: as unset
    assert get_platform().port == 9000 and get_platform().aip_health_route is None


def test_the_root_is_normalised_where_it_enters(in_folder: Path) -> None:
    assert get_settings().root == str(in_folder / ".mlcycle")
    assert get_settings(root="data/../here").root == str(in_folder / "here")
    assert get_settings(root="~").root == str(Path.home())
    assert get_settings(root="gs://bucket/prefix/").root == "gs://bucket/prefix"
    assert get_settings(root=f"file://{in_folder}/x").root == str(in_folder / "x")
    (in_folder / ".env").write_text("MLCYCLE_ROOT=from-dotenv\n")
    assert ApiSettings().root == str(in_folder / "from-dotenv")


# -- a bad value is one line naming the variable, from every command --------------------------


@pytest.mark.parametrize(
    ("args", "variables", "named"),
    [
        (["models"], "MLCYCLE_KEEP_RUNS=zero", "MLCYCLE_KEEP_RUNS='zero': Input should be a valid"),
        (["run"], "MLCYCLE_KEEP_RUNS=0", "MLCYCLE_KEEP_RUNS='0': Input should be greater than"),
        (["data", "list"], "MLCYCLE_KEEP_RUNS=x", "MLCYCLE_KEEP_RUNS='x'"),
        (["serve"], "MLCYCLE_POLL_SECONDS=soon", "MLCYCLE_POLL_SECONDS='soon'"),
        (["ui"], "MLCYCLE_API_TIMEOUT=-1", "MLCYCLE_API_TIMEOUT='-1'"),
    ],
)
def test_a_bad_setting_in_dotenv_is_named_in_one_line_by_every_command(
    in_folder: Path, args: list[str], variables: str, named: str
) -> None:
    from mlcycle import cli

    (in_folder / ".env").write_text(variables + "\n")
    out = CliRunner().invoke(cli.app, args, env={"COLUMNS": "300"})
    assert out.exit_code == 1, out.output
    assert named in out.output and "(from the environment or .env)" in out.output
    assert out.output.count("\n") == 1 and "Traceback" not in out.output


def test_a_bad_platform_variable_or_secret_is_named_without_echoing_the_secret(
    in_folder: Path,
) -> None:
    from mlcycle import cli

    out = CliRunner().invoke(cli.app, ["serve"], env={"COLUMNS": "300", "PORT": "eighty"})
    assert out.exit_code == 1 and "PORT='eighty'" in out.output
    assert "(from the environment)" in out.output  # platform variables are not read from .env
    (in_folder / ".env").write_text("MLCYCLE_UI_SECRET_KEY=\nMLCYCLE_ADMIN_TOKEN=hunter2\n")
    out = CliRunner().invoke(cli.app, ["serve"], env={"COLUMNS": "300"})
    assert out.exit_code == 1 and "MLCYCLE_ADMIN_TOKEN must be at least 16" in out.output
    assert "hunter2" not in out.output


def test_every_mlcycle_section_reads_dotenv(in_folder: Path) -> None:
    (in_folder / ".env").write_text(
        "MLCYCLE_KEEP_RUNS=3\nMLCYCLE_POLL_SECONDS=0.5\nMLCYCLE_API_URL=http://api:1\n"
        "MLCYCLE_GIT_COMMIT=abc123\n"
    )
    assert Settings().keep_runs == 3 and ApiSettings().poll_seconds == 0.5
    assert UiSettings().api_url == "http://api:1"
    from mlcycle.lineage import git_commit

    assert git_commit() == "abc123"


def test_no_module_but_settings_reads_the_environment() -> None:
    """The one exception: the step lifeline's handshake between a run and its own steps."""
    readers = re.compile(r"os\.environ|getenv|BaseSettings\b")
    found = {
        str(path.relative_to(REPO / "src"))
        for path in (REPO / "src/mlcycle").rglob("*.py")
        if readers.search(path.read_text())
    }
    # pipeline/local.py forwards variables to step containers as they are, and
    # pipeline/warm.py hands a forked step the environment its run gives it, reading none.
    assert found <= {
        "mlcycle/settings.py",
        "mlcycle/pipeline/lifeline.py",
        "mlcycle/pipeline/local.py",
        "mlcycle/pipeline/warm.py",
    }


# -- the documentation -----------------------------------------------------------------------


def documented(text: str) -> list[str]:
    """Variables a line of .env.example sets, or shows commented out: `NAME=` / `# NAME=`."""
    return re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE)


def test_env_example_lists_exactly_the_settings_variables() -> None:
    names = documented((REPO / ".env.example").read_text())
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) == every_variable()


def test_env_example_defaults_are_the_settings_defaults() -> None:
    fields = {
        name: field
        for section in SECTIONS
        for name, field in zip(env_names(section), section.model_fields.values(), strict=True)
    }
    for line in (REPO / ".env.example").read_text().splitlines():
        if match := re.match(r"([A-Z][A-Z0-9_]+)=(.+)$", line):  # set, not commented out
            name, value = match.groups()
            field = fields[name]  # the value as the setting reads it: "true", "10", "0.5"
            assert TypeAdapter(field.annotation).validate_python(value) == field.default, name


def test_the_readme_table_lists_exactly_the_settings_variables() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Settings") :]
    section = section[: section.index("\n#", 1)]
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.MULTILINE)
    assert len(rows) == len(set(rows)) and set(rows) == every_variable()


def test_each_setting_says_what_it_is_for() -> None:
    for section in SECTIONS:
        for name, field in section.model_fields.items():
            assert field.description, f"{section.__name__}.{name}"


def test_api_settings_extend_the_project_s() -> None:
    assert set(env_names(Settings)) < set(env_names(ApiSettings))
