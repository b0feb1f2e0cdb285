"""Reading target-duckdb's --config: files, named pipes, ENV and a .env file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.target.helpers import lines, query, record, schema

ITEM = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}
MESSAGES = [schema("items", ITEM, ["id"]), record("items", {"id": 1, "name": "one"})]


def run_target(
    cwd: Path, *config: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run target-duckdb in `cwd` with the given --config values, feeding MESSAGES."""
    arguments = [argument for value in config for argument in ("--config", value)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_DUCKDB")}
    environment.update(env or {})
    return subprocess.run(  # noqa: S603 - runs this checkout's own target
        [sys.executable, "-m", "target_duckdb", *arguments],
        input=lines(MESSAGES),
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    prefix = "target-duckdb: error:"
    errors = [line for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "no such file"), ("{bad", "not valid JSON"), ("[1]", "not a JSON object")],
)
def test_unreadable_config_file_fails_in_one_line(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    line = error_line(run_target(tmp_path, str(path)))

    assert f"Cannot read --config file '{path}': {reason}" in line
    assert "Pass a JSON file of settings" in line


def test_config_from_named_pipe_is_read_once(tmp_path: Path) -> None:
    pipe = tmp_path / "config.json"
    os.mkfifo(pipe)
    database = tmp_path / "piped.duckdb"

    def serve() -> None:
        with pipe.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps({"path": str(database)}))

    writer = threading.Thread(target=serve, daemon=True)
    writer.start()
    result = run_target(tmp_path, str(pipe))
    writer.join(5)

    assert result.returncode == 0, result.stderr
    assert query(str(database), "SELECT id, name FROM items") == [(1, "one")]


def test_env_config_reads_dotenv_of_working_folder(tmp_path: Path) -> None:
    database = tmp_path / "from_dotenv.duckdb"
    (tmp_path / ".env").write_text(f"TARGET_DUCKDB_PATH={database}\n", encoding="utf-8")

    result = run_target(tmp_path, "ENV")

    assert result.returncode == 0, result.stderr
    assert query(str(database), "SELECT count(*) FROM items") == [(1,)]


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv_database = tmp_path / "dotenv.duckdb"
    (tmp_path / ".env").write_text(f"TARGET_DUCKDB_PATH={dotenv_database}\n", encoding="utf-8")
    chosen = tmp_path / "environment.duckdb"

    result = run_target(tmp_path, "ENV", env={"TARGET_DUCKDB_PATH": str(chosen)})

    assert result.returncode == 0, result.stderr
    assert query(str(chosen), "SELECT count(*) FROM items") == [(1,)]
    assert not dotenv_database.exists()
