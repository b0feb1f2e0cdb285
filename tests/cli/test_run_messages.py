"""Messages of a run: a wrong api_url, an empty extraction and a locked DuckDB file."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from omniload.errors import ExitCode, LoadError
from omniload.runner import Pipeline, find_executable

from tests.asana_server import AsanaServer
from tests.cli.support import ingest_arguments, run_omniload

WORKSPACE = "workspace-1337"
MakeServer = Callable[..., AsanaServer]


def test_api_url_without_api_path_is_named(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    root = server.base_url.removesuffix("/api/1.0")
    assert root != server.base_url
    uri = f"asana://{WORKSPACE}?access_token={server.token}&api_url={root}"

    result = run_omniload(ingest_arguments(uri, "users"), cwd=tmp_path)

    (line,) = result.stderr.splitlines()[-1:]
    assert result.returncode == ExitCode.SOURCE_ERROR, result.stderr
    assert f"The api_url {root} looks wrong" in line
    assert "must end in /api/1.0" in line
    assert "not found" not in line
    assert server.token not in result.stderr
    assert not (tmp_path / "work.db").exists()


def test_unknown_workspace_is_still_not_found(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    uri = f"asana://no-such-workspace?access_token={server.token}&api_url={server.base_url}"

    result = run_omniload(ingest_arguments(uri, "users"), cwd=tmp_path)

    assert result.returncode == ExitCode.SOURCE_ERROR, result.stderr
    assert "Workspace 'no-such-workspace' not found" in result.stderr
    assert "api_url" not in result.stderr.splitlines()[-1]


def test_empty_extraction_reports_zero_rows(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    uri = f"asana://{WORKSPACE}?access_token={server.token}&api_url={server.base_url}"

    result = run_omniload(
        ingest_arguments(uri, "tasks", "duckdb://./work.db", None,
                         "--interval-start", "2099-01-01"),
        cwd=tmp_path,
    )

    assert result.returncode == ExitCode.OK, result.stderr
    assert "Extracted: tasks: 0 rows\n" in result.stderr
    assert "waiting" not in result.stderr
    connection = duckdb.connect(str(tmp_path / "work.db"), read_only=True)
    try:
        rows = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'tasks'"
        ).fetchone()
        if rows == (1,):
            assert connection.execute("SELECT count(*) FROM public.tasks").fetchone() == (0,)
    finally:
        connection.close()


def _singer_messages() -> str:
    schema = {"type": "SCHEMA", "stream": "users", "key_properties": ["gid"],
              "schema": {"type": "object", "properties": {"gid": {"type": "string"}}}}
    record = {"type": "RECORD", "stream": "users", "record": {"gid": "1"}}
    return "\n".join(json.dumps(message) for message in (schema, record)) + "\n"


def test_locked_file_advice_fits_omniload(tmp_path: Path) -> None:
    messages = tmp_path / "messages.jsonl"
    messages.write_text(_singer_messages(), encoding="utf-8")
    database = tmp_path / "work.db"
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"path": str(database)}), encoding="utf-8")
    tap_argv = [sys.executable, "-c", f"print(open({str(messages)!r}).read(), end='')"]
    pipeline = Pipeline(
        tap_argv, [find_executable("target-duckdb"), "--config", str(config)], None
    )

    holder = duckdb.connect(str(database))
    holder.execute("CREATE TABLE kept AS SELECT 1 AS x")
    try:
        with pytest.raises(LoadError) as raised:
            pipeline.run(lambda counter: None, 0.1)
    finally:
        holder.close()

    message = raised.value.message
    assert "is locked by another process" in message
    assert "run omniload again" in message
    assert "the target again" not in message
    assert "\n" not in message
    connection = duckdb.connect(str(database), read_only=True)
    assert connection.execute("SELECT x FROM kept").fetchall() == [(1,)]
    connection.close()
