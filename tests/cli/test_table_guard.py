"""A destination table loaded from one source table is not overwritten by another."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from omniload.errors import ExitCode

from tests.asana_server import AsanaServer
from tests.cli.support import expected_rows, ingest_arguments, loaded_rows, run_omniload

WORKSPACE = "workspace-1337"
MakeServer = Callable[..., AsanaServer]


def _source_uri(server: AsanaServer, workspace: str = WORKSPACE) -> str:
    return f"asana://{workspace}?access_token={server.token}&api_url={server.base_url}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("first", "second"), [("tasks", "users"), ("users", "tasks")], ids=["users over tasks",
                                                                        "tasks over users"]
)
def test_other_source_table_is_rejected(
    make_asana_server: MakeServer, tmp_path: Path, first: str, second: str
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    loaded = run_omniload(
        ingest_arguments(_source_uri(server), first, dest_table=f"public.{first}"), cwd=tmp_path
    )
    assert loaded.returncode == ExitCode.OK, loaded.stderr
    database = tmp_path / "work.db"
    before = _digest(database)
    server.admin.reset_counts()

    result = run_omniload(
        ingest_arguments(_source_uri(server), second, dest_table=f"public.{first}"),
        cwd=tmp_path,
    )

    error_lines = result.stderr.splitlines()
    assert result.returncode == ExitCode.USAGE_ERROR, result.stderr
    assert len(error_lines) == 1, result.stderr
    assert f"--dest-table public.{first}" in error_lines[0]
    assert f"source table '{first}'" in error_lines[0]
    assert f"loading '{second}'" in error_lines[0]
    assert "Choose another --dest-table, or drop" in error_lines[0]
    assert server.token not in result.stderr
    assert server.admin.counts() == {}, "no request may reach the server"
    assert _digest(database) == before
    expected = expected_rows(server.admin.snapshot(), first, WORKSPACE)
    gids = {gid for (gid,) in loaded_rows(database, f"public.{first}", ("gid",))}
    assert gids == set(expected)


def test_other_workspace_counts_too(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    other = server.workspace_gids[1]
    first = run_omniload(
        ingest_arguments(_source_uri(server, other), "users", dest_table="public.rows"),
        cwd=tmp_path,
    )
    assert first.returncode == ExitCode.OK, first.stderr

    result = run_omniload(
        ingest_arguments(_source_uri(server), "tags", dest_table="PUBLIC.Rows"), cwd=tmp_path
    )

    assert result.returncode == ExitCode.USAGE_ERROR, result.stderr
    assert "source table 'users'" in result.stderr


def test_dropped_table_may_take_other_source(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    users = ingest_arguments(_source_uri(server), "users", dest_table="public.rows")
    tags = ingest_arguments(_source_uri(server), "tags", dest_table="public.rows")
    assert run_omniload(users, cwd=tmp_path).returncode == ExitCode.OK
    connection = duckdb.connect(str(tmp_path / "work.db"))
    connection.execute("DROP TABLE public.rows")
    connection.close()

    loaded = run_omniload(tags, cwd=tmp_path)
    again = run_omniload(tags, cwd=tmp_path)
    back = run_omniload(users, cwd=tmp_path)

    assert loaded.returncode == ExitCode.OK, loaded.stderr
    assert again.returncode == ExitCode.OK, again.stderr
    assert back.returncode == ExitCode.USAGE_ERROR, back.stderr
    assert "source table 'tags'" in back.stderr
    expected = expected_rows(server.admin.snapshot(), "tags", WORKSPACE)
    gids = {gid for (gid,) in loaded_rows(tmp_path / "work.db", "public.rows", ("gid",))}
    assert gids == set(expected)
