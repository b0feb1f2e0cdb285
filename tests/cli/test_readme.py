"""The README's quick start: its test command is CI's, and its demo command works as written."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.asana_server import AsanaServer, ServerConfig
from tests.cli.support import TABLES, expected_rows

REPOSITORY = Path(__file__).resolve().parents[2]
# Paths not copied into the fresh checkout: environments, caches and generated output.
NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".venvs", ".meltano-venv", ".git", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".mypy_cache", ".meltano", ".env", "build", "output", "work", "*.duckdb", "*.db",
)


def quick_start_commands() -> list[str]:
    """Return the shell commands of the README's Quick start section, in order."""
    text = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def test_quick_start_has_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)


def test_readme_test_command_matches_ci() -> None:
    ci_lines = (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    test_command = quick_start_commands()[1]
    assert test_command in ci_lines
    assert test_command.endswith("-m pytest")


def _demo_config() -> ServerConfig:
    """Return the server configuration scripts/demo.py starts."""
    spec = importlib.util.spec_from_file_location("demo", REPOSITORY / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    config: ServerConfig = demo.demo_config()
    return config


def test_demo_command_runs_as_written(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPOSITORY, checkout, ignore=NOT_COPIED)
    demo_command = quick_start_commands()[0]

    result = subprocess.run(  # noqa: S603
        ["bash", "-c", demo_command],  # noqa: S607 - bash from PATH, as a user would run it
        cwd=checkout, capture_output=True, text=True,
        timeout=1200, check=False,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    config = _demo_config()
    with AsanaServer(config) as server:
        snapshot = server.admin.snapshot()
    connection = duckdb.connect(str(checkout / "output" / "demo.duckdb"), read_only=True)
    try:
        for table in TABLES:
            (rows,) = connection.execute(f"SELECT count(*) FROM asana.{table}").fetchone()  # noqa: S608
            expected = len(expected_rows(snapshot, table, config.workspace_gid or ""))
            assert rows == expected, table
            assert f"asana.{table:<11} {rows:>6}" in result.stdout
    finally:
        connection.close()
    assert "Open tasks per project" in result.stdout


def _readme_section(title: str) -> str:
    text = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n{title}\n", 1)[1].split("\n#", 1)[0]


def test_readme_server_command_starts_server() -> None:
    section = _readme_section("### The local Asana server")
    (command,) = re.findall(r"```sh\n(.*?)\n```", section, re.DOTALL)
    arguments = command.split()
    assert arguments[:3] == [".venv/bin/python", "-m", "tests.asana_server"]
    assert "tests/asana_server/README.md" in section
    # Port 0 picks a free port, so the test does not collide with a server already on 8080.
    arguments[arguments.index("--port") + 1] = "0"

    process = subprocess.Popen(  # noqa: S603
        [sys.executable, *arguments[1:]], cwd=REPOSITORY, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()

    assert started["base_url"].startswith("http://127.0.0.1:")
    assert started["base_url"].endswith("/api/1.0")
    assert started["token"]


def test_readme_says_ci_starts_postgres() -> None:
    quick_start = _readme_section("## Quick start")
    ci_script = (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8")

    assert "start_postgres" in ci_script
    assert "starts a local PostgreSQL server for the ecosystem tests" in " ".join(
        quick_start.split()
    )
    assert "those tests are skipped" in quick_start


def test_readme_meltano_section_is_complete() -> None:
    section = " ".join(_readme_section("### Meltano").split())

    assert "python3 -m venv .meltano-venv && .meltano-venv/bin/pip install meltano==4.4.1" in (
        section
    )
    for fact in ("TAP_ASANA_API_URL", "TAP_ASANA_WORKSPACE_GID", "`output/asana.duckdb`",
                 "schema `tap_asana`", "state per environment in `.meltano/`"):
        assert fact in section


def test_tap_readme_meltano_recipe_matches() -> None:
    tap_readme = (REPOSITORY / "tap-asana" / "README.md").read_text(encoding="utf-8")
    recipe = tap_readme.split("## Run it with Meltano", 1)[1].split("\n## ", 1)[0]
    (tap_commands,) = re.findall(r"```bash\n(.*?)```", recipe, re.DOTALL)
    (readme_commands,) = re.findall(r"```sh\n(.*?)```", _readme_section("### Meltano"),
                                    re.DOTALL)

    assert tap_commands == readme_commands
    for fact in ("TAP_ASANA_API_URL", "TAP_ASANA_WORKSPACE_GID", "`output/asana.duckdb`",
                 "schema `tap_asana`", "`.meltano/`"):
        assert fact in " ".join(recipe.split())
