"""`omniload ingest` against the local Asana server, checked against the server's ground truth."""

from __future__ import annotations

import collections
import os
import pty
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from omniload.errors import ExitCode

from tests.asana_server import AsanaServer
from tests.cli.support import (
    LABEL_COLUMN,
    OMNILOAD,
    TABLES,
    clean_environment,
    expected_rows,
    ingest_arguments,
    loaded_rows,
    run_omniload,
)

WORKSPACE = "workspace-1337"
MakeServer = Callable[..., AsanaServer]


def source_uri(server: AsanaServer, workspace: str = WORKSPACE, token: str | None = None) -> str:
    return (
        f"asana://{workspace}?access_token={token or server.token}&api_url={server.base_url}"
    )


@pytest.mark.parametrize("table", TABLES)
def test_ingest_loads_table_like_server(
    make_asana_server: MakeServer, tmp_path: Path, table: str
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)

    result = run_omniload(ingest_arguments(source_uri(server), table), cwd=tmp_path)

    assert result.returncode == ExitCode.OK, result.stderr
    assert f"Destination: {tmp_path / 'work.db'}" in result.stderr
    assert f"public.{table}:" in result.stdout
    expected = expected_rows(server.admin.snapshot(), table, WORKSPACE)
    assert expected, "the ground truth must not be empty for this check to mean anything"
    label = LABEL_COLUMN[table]
    rows = loaded_rows(tmp_path / "work.db", f"public.{table}", ("gid", label))
    gids = [gid for gid, _ in rows]
    assert len(gids) == len(set(gids)), "duplicate gids"
    assert set(gids) == set(expected)
    assert {gid: value for gid, value in rows} == {
        gid: row[label] for gid, row in expected.items()
    }


def test_second_tasks_run_updates_only_changed(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE, projects=5, tasks_per_project=30)
    arguments = ingest_arguments(source_uri(server), "tasks")
    first = run_omniload(arguments, cwd=tmp_path)
    assert first.returncode == ExitCode.OK, first.stderr
    columns = ("gid", "name", "modified_at")
    before = {row[0]: row for row in loaded_rows(tmp_path / "work.db", "public.tasks", columns)}

    chosen = sorted(before)[::10][:7]
    server.admin.reset_counts()
    touched = set(server.admin.touch_tasks(gids=chosen))
    second = run_omniload(arguments, cwd=tmp_path)

    assert second.returncode == ExitCode.OK, second.stderr
    assert "Resuming from the state stored by the last run." in second.stderr
    after = {row[0]: row for row in loaded_rows(tmp_path / "work.db", "public.tasks", columns)}
    assert len(touched) == 7
    assert set(after) == set(before)
    changed = {gid for gid in after if after[gid] != before[gid]}
    assert changed == touched
    truth = expected_rows(server.admin.snapshot(), "tasks", WORKSPACE)
    assert {gid: after[gid][1] for gid in touched} == {gid: truth[gid]["name"] for gid in touched}

    counts = server.admin.counts()
    projects = len(expected_rows(server.admin.snapshot(), "projects", WORKSPACE))
    # Seven changed tasks fit in one page per project, so one listing request per project.
    assert counts.get("GET /tasks", 0) == projects
    assert sum(counts.values()) <= projects + 4, counts


def test_full_refresh_drops_deleted_tasks(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    arguments = ingest_arguments(source_uri(server), "tasks")
    assert run_omniload(arguments, cwd=tmp_path).returncode == ExitCode.OK
    state_before = _stored_states(tmp_path / "work.db")
    loaded = sorted(expected_rows(server.admin.snapshot(), "tasks", WORKSPACE))
    deleted = set(server.admin.delete_tasks(gids=loaded[:3]))
    server.admin.touch_tasks(gids=loaded[-2:])

    refreshed = run_omniload([*arguments, "--full-refresh"], cwd=tmp_path)

    assert refreshed.returncode == ExitCode.OK, refreshed.stderr
    assert "Resuming from the state" not in refreshed.stderr
    gids = {gid for (gid,) in loaded_rows(tmp_path / "work.db", "public.tasks", ("gid",))}
    assert gids == set(expected_rows(server.admin.snapshot(), "tasks", WORKSPACE))
    assert len(deleted) == 3
    assert not gids & deleted
    state_after = _stored_states(tmp_path / "work.db")
    assert list(state_after) == list(state_before)
    assert state_after != state_before, "a full refresh stores the state it reached"


def _stored_states(path: Path) -> dict[str, str]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        rows = connection.execute("SELECT key, value::VARCHAR FROM _omniload.state").fetchall()
    finally:
        connection.close()
    return dict(rows)


def test_state_is_kept_per_workspace(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    other = server.workspace_gids[1]
    snapshot = server.admin.snapshot()

    for workspace in (WORKSPACE, other):
        result = run_omniload(
            ingest_arguments(source_uri(server, workspace), "tasks"), cwd=tmp_path
        )
        assert result.returncode == ExitCode.OK, result.stderr

    gids = {gid for (gid,) in loaded_rows(tmp_path / "work.db", "public.tasks", ("gid",))}
    expected = set(expected_rows(snapshot, "tasks", WORKSPACE)) | set(
        expected_rows(snapshot, "tasks", other)
    )
    assert gids == expected
    connection = duckdb.connect(str(tmp_path / "work.db"), read_only=True)
    keys = [key for (key,) in connection.execute("SELECT key FROM _omniload.state").fetchall()]
    connection.close()
    assert len(keys) == 2
    assert any(WORKSPACE in key for key in keys)
    assert any(other in key for key in keys)


def test_token_from_environment_variable(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    environment = clean_environment(
        ASANA_ACCESS_TOKEN=server.token,
        OMNILOAD_SOURCE_URI=f"asana://{WORKSPACE}?api_url={server.base_url}",
        OMNILOAD_SOURCE_TABLE="projects",
        OMNILOAD_DEST_URI="duckdb:///work.db",
        OMNILOAD_DEST_TABLE="raw.projects",
    )

    result = run_omniload(["ingest"], cwd=tmp_path, environment=environment)

    assert result.returncode == ExitCode.OK, result.stderr
    gids = {gid for (gid,) in loaded_rows(tmp_path / "work.db", "raw.projects", ("gid",))}
    assert gids == set(expected_rows(server.admin.snapshot(), "projects", WORKSPACE))


def _fingerprint(path: Path) -> tuple[bytes, int] | None:
    return (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None


@pytest.mark.parametrize(
    ("workspace", "token_kind", "fragment"),
    [
        ("999999", "full", "Workspace '999999' not found"),
        ("plain", "limited", "cannot read workspace"),
        (WORKSPACE, "wrong", "Asana rejected the access token"),
    ],
    ids=["unknown workspace", "inaccessible workspace", "wrong token"],
)
def test_rejected_workspace_fails_before_loading(
    make_asana_server: MakeServer, tmp_path: Path, workspace: str, token_kind: str,
    fragment: str,
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    assert run_omniload(ingest_arguments(source_uri(server), "users"), cwd=tmp_path).returncode == 0
    before = _fingerprint(tmp_path / "work.db")
    token = {"full": server.token, "limited": server.limited_token, "wrong": "0/not-a-token"}
    if workspace == "plain":
        workspace = server.workspace_gids[1]

    result = run_omniload(
        ingest_arguments(source_uri(server, workspace, token[token_kind]), "users"), cwd=tmp_path
    )

    assert result.returncode == ExitCode.SOURCE_ERROR
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    assert fragment in error_lines[0]
    assert "Traceback" not in result.stderr
    assert _fingerprint(tmp_path / "work.db") == before
    assert not (tmp_path / "work.db.wal").exists()


def test_locked_file_fails_before_network(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    with subprocess.Popen(  # noqa: S603
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE t (x INT)');"
         "print('ready', flush=True); sys.stdin.read()",
         str(tmp_path / "work.db")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        server.admin.reset_counts()
        try:
            result = run_omniload(ingest_arguments(source_uri(server), "tasks"), cwd=tmp_path)
        finally:
            assert holder.stdin is not None
            holder.stdin.close()

    assert result.returncode == ExitCode.DESTINATION_ERROR
    assert "is locked by another process" in result.stderr
    assert server.admin.counts() == {}


def test_summary_counts_rows(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    expected = expected_rows(server.admin.snapshot(), "tags", WORKSPACE)

    result = run_omniload(ingest_arguments(source_uri(server), "tags"), cwd=tmp_path)

    assert result.returncode == ExitCode.OK, result.stderr
    summary = [line for line in result.stdout.splitlines() if line.startswith("public.tags:")]
    assert len(summary) == 1
    assert f"{len(expected)} inserted" in summary[0]


def test_stories_merge_fetches_changed_tasks_only(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE, projects=4, tasks_per_project=20)
    arguments = ingest_arguments(
        source_uri(server), "stories", "duckdb://./work.db", None,
        "--incremental-strategy", "merge",
    )
    first = run_omniload(arguments, cwd=tmp_path)
    assert first.returncode == ExitCode.OK, first.stderr
    tasks = sorted(expected_rows(server.admin.snapshot(), "tasks", WORKSPACE))

    new_stories = set(server.admin.add_stories(gids=tasks[:3]))
    server.admin.reset_counts()
    second = run_omniload(arguments, cwd=tmp_path)

    assert second.returncode == ExitCode.OK, second.stderr
    assert "Resuming from the state stored by the last run." in second.stderr
    rows = loaded_rows(tmp_path / "work.db", "public.stories", ("gid", "text"))
    gids = [gid for gid, _ in rows]
    assert len(gids) == len(set(gids))
    assert new_stories <= set(gids)
    assert set(gids) == set(expected_rows(server.admin.snapshot(), "stories", WORKSPACE))
    projects = len(expected_rows(server.admin.snapshot(), "projects", WORKSPACE))
    story_requests = server.admin.counts().get("GET /tasks/{task_gid}/stories", 0)
    # The three changed tasks, plus at most one task per project whose modified_at equals the
    # bookmark (Asana's modified_since is inclusive).
    assert 3 <= story_requests <= 3 + projects


def test_interval_loads_window_without_state(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    truth = expected_rows(server.admin.snapshot(), "tasks", WORKSPACE)
    times = sorted(row["modified_at"] for row in truth.values())
    start, end = times[len(times) // 4], times[len(times) // 2]
    inside = {gid for gid, row in truth.items() if start <= row["modified_at"] <= end}

    result = run_omniload(
        ingest_arguments(source_uri(server), "tasks", "duckdb://./work.db", None,
                         "--interval-start", start, "--interval-end", end),
        cwd=tmp_path,
    )

    assert result.returncode == ExitCode.OK, result.stderr
    gids = {gid for (gid,) in loaded_rows(tmp_path / "work.db", "public.tasks", ("gid",))}
    assert inside, "the window must contain tasks for this check to mean anything"
    assert gids == inside
    connection = duckdb.connect(str(tmp_path / "work.db"), read_only=True)
    state_tables = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = '_omniload'"
    ).fetchone()
    connection.close()
    assert state_tables == (0,)


def test_target_failure_is_one_line(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    connection = duckdb.connect(str(tmp_path / "work.db"))
    connection.execute("CREATE SCHEMA public")
    connection.execute("CREATE VIEW public.tags AS SELECT 'x' AS gid")
    connection.close()
    arguments = ingest_arguments(source_uri(server), "tags")

    result = run_omniload(arguments, cwd=tmp_path)
    debug = run_omniload([*arguments, "--debug"], cwd=tmp_path)

    assert result.returncode == ExitCode.LOAD_FAILED
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    assert error_lines[0].startswith("Error: target-duckdb failed (exit 1): ")
    assert "view" in error_lines[0].lower()
    assert "Traceback" not in result.stderr
    assert debug.returncode == ExitCode.LOAD_FAILED
    assert "Traceback" in debug.stderr
    connection = duckdb.connect(str(tmp_path / "work.db"), read_only=True)
    assert connection.execute("SELECT gid FROM public.tags").fetchall() == [("x",)]
    connection.close()


def _processes_mentioning(text: str) -> list[bytes]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            content = cmdline.read_bytes()
        except OSError:
            continue
        if text.encode() in content:
            found.append(content)
    return found


def test_sigterm_keeps_previous_table(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    arguments = ingest_arguments(source_uri(server), "tasks")
    assert run_omniload(arguments, cwd=tmp_path).returncode == ExitCode.OK
    columns = ("gid", "name", "modified_at")
    before = loaded_rows(tmp_path / "work.db", "public.tasks", columns)
    server.admin.delete_tasks(count=5)
    server.admin.set_faults(latency_ms=400)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    environment = clean_environment(TMPDIR=str(private_tmp))

    with subprocess.Popen(  # noqa: S603
        [OMNILOAD, *arguments, "--full-refresh"], cwd=tmp_path, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:
        while not list(private_tmp.glob("omniload-*/target.json")) and process.poll() is None:
            time.sleep(0.05)
        process.terminate()
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == ExitCode.INTERRUPTED, stderr
    assert stderr.splitlines()[-1].startswith("Error: Interrupted")
    assert loaded_rows(tmp_path / "work.db", "public.tasks", columns) == before
    assert _processes_mentioning(str(private_tmp)) == []
    assert list(private_tmp.iterdir()) == []


def test_interactive_progress_rewrites_one_line(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE, latency_ms=100)

    # Bytes, because text mode would turn the carriage returns into newlines.
    result = subprocess.run(  # noqa: S603
        [OMNILOAD, *ingest_arguments(source_uri(server), "tasks"), "--progress", "interactive"],
        cwd=tmp_path, env=clean_environment(), capture_output=True, timeout=600, check=False,
    )

    assert result.returncode == ExitCode.OK, result.stderr
    assert b"\rtasks: " in result.stderr
    assert b"rows/s" in result.stderr


def test_declined_prompt_cancels_before_network(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    server.admin.reset_counts()
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen(  # noqa: S603
            [OMNILOAD, *ingest_arguments(source_uri(server), "tasks")],
            cwd=tmp_path, env=clean_environment(), stdin=terminal,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as process:
            os.write(controller, b"n\n")
            _, stderr = process.communicate(timeout=120)
    finally:
        os.close(controller)
        os.close(terminal)

    assert process.returncode == ExitCode.CANCELLED, stderr
    assert "Proceed?" in stderr
    # The answer is echoed on the terminal, not on stderr, so the prompt ends the same line.
    assert stderr.splitlines()[-1].endswith("Error: Cancelled: nothing was loaded.")
    assert server.admin.counts() == {}
    assert not (tmp_path / "work.db").exists()


@pytest.mark.parametrize(("strategy", "copies"), [("replace", 1), ("merge", 1), ("append", 2)])
def test_strategy_on_full_table_stream(
    make_asana_server: MakeServer, tmp_path: Path, strategy: str, copies: int
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    arguments = ingest_arguments(
        source_uri(server), "users", "duckdb://./work.db", None,
        "--incremental-strategy", strategy,
    )

    for _ in range(2):
        result = run_omniload(arguments, cwd=tmp_path)
        assert result.returncode == ExitCode.OK, result.stderr

    assert f"strategy {strategy})" in result.stderr
    gids = [gid for (gid,) in loaded_rows(tmp_path / "work.db", "public.users", ("gid",))]
    expected = set(expected_rows(server.admin.snapshot(), "users", WORKSPACE))
    assert set(gids) == expected
    assert collections.Counter(gids) == collections.Counter(
        {gid: copies for gid in expected}
    )


def test_run_removes_private_folders_of_killed_runs(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    # A process that has exited: its pid names a run that no longer runs.
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    stale = temporary / f"omniload-{ended.pid}-abc123"
    stale.mkdir()
    (stale / "catalog.json").write_text("{}")
    alive = temporary / f"omniload-{os.getpid()}-def456"
    alive.mkdir()
    unrelated = temporary / "omniload-notapid"
    unrelated.mkdir()

    result = run_omniload(
        ingest_arguments(source_uri(server), "tags"),
        cwd=tmp_path,
        environment=clean_environment(TMPDIR=str(temporary)),
    )

    assert result.returncode == ExitCode.OK, result.stderr
    assert not stale.exists()
    assert alive.is_dir()
    assert unrelated.is_dir()
    # The run's own folder is gone too once it ends.
    remaining = sorted(entry.name for entry in temporary.iterdir())
    assert remaining == sorted([alive.name, unrelated.name])


def test_file_open_by_reader_fails_before_network(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    database = tmp_path / "work.db"
    with duckdb.connect(str(database)) as connection:
        connection.execute("CREATE TABLE kept AS SELECT 1 AS one")
    # The command is this interpreter running the fixed script below.
    with subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", READER_SCRIPT, str(database)], stdout=subprocess.PIPE, text=True
    ) as reader:
        try:
            assert reader.stdout is not None
            assert reader.stdout.readline().strip() == "open"
            server.admin.reset_counts()

            result = run_omniload(ingest_arguments(source_uri(server), "tags"), cwd=tmp_path)
        finally:
            reader.kill()

    assert result.returncode == ExitCode.DESTINATION_ERROR, result.stderr
    assert "is locked by another process" in result.stderr
    assert server.admin.counts() == {}
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("SELECT one FROM kept").fetchall() == [(1,)]


# Keeps the file open read-only until killed, as a notebook or BI tool would.
READER_SCRIPT = (
    "import sys, time, duckdb\n"
    "connection = duckdb.connect(sys.argv[1], read_only=True)\n"
    "print('open', flush=True)\n"
    "time.sleep(120)\n"
)


def test_unreachable_api_names_the_socket_error(tmp_path: Path) -> None:
    # Port 9 (discard) has no listener here, so the connection is refused at once.
    source = "asana://1206000000000001?access_token=0/abc&api_url=http://127.0.0.1:9/api/1.0"

    result = run_omniload(ingest_arguments(source, "tags"), cwd=tmp_path)

    assert result.returncode == ExitCode.SOURCE_ERROR, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: Cannot reach the Asana API at http://127.0.0.1:9/api/1.0: connection refused. "
        "Check api_url and the network."
    ]
