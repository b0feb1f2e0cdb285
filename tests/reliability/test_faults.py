"""Server faults heal: rate limits, server errors, dropped connections, expired offsets, latency.

Each case runs the real `omniload ingest` against the local server with faults switched on and
then compares every loaded table with the server's ground truth: same rows, no duplicates,
same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from omniload.errors import ExitCode
from tests.reliability.support import (
    WORKSPACE,
    LiveRun,
    MakeServer,
    assert_matches_truth,
    assert_only_tables,
    ingest,
    run_cli,
    source_uri,
)

# "5% 500/503 responses" and "1% dropped connections", split evenly between 500 and 503.
SERVER_ERRORS = {"p500": 0.025, "p503": 0.025}
DROPS = {"p_drop": 0.01}
LATENCY = {"latency_ms": 200}
RATE_LIMIT = {"rpm": 60}
RATE_LIMIT_WITHOUT_RETRY_AFTER = {"rpm": 60, "retry_after": False}


def _load(server: Any, folder: Path, tables: tuple[str, ...]) -> str:
    """Run one ingest per table with --debug; return the combined stderr."""
    stderr = ""
    for table in tables:
        result = run_cli(ingest(source_uri(server), table, None, "--debug"), folder)
        assert result.returncode == ExitCode.OK, result.stderr[-3000:]
        stderr += result.stderr
    return stderr


def _check_tables(server: Any, folder: Path, tables: tuple[str, ...]) -> None:
    server.admin.set_faults(p500=0, p503=0, p_drop=0, rpm=0, latency_ms=0)
    for table in tables:
        assert_matches_truth(folder / "work.db", server, table)
    assert_only_tables(folder / "work.db", {f"public.{table}" for table in tables})


def test_faults_together_heal(make_asana_server: MakeServer, tmp_path: Path) -> None:
    # 105 tasks per project make every task listing two pages long, so offsets matter.
    server = make_asana_server(
        workspace_gid=WORKSPACE, projects=2, tasks_per_project=105, stories_per_task=1,
        offset_ttl=1, **SERVER_ERRORS, **DROPS, **LATENCY,
    )
    tables = ("tasks", "stories")

    stderr = _load(server, tmp_path, tables)

    assert "Retrying in" in stderr, "no fault reached the tap, so the case proved nothing"
    _check_tables(server, tmp_path, tables)


def test_expired_offset_restarts_listing(make_asana_server: MakeServer, tmp_path: Path) -> None:
    # Every second page comes more than offset_ttl after the first, so every offset expires
    # until the test lengthens the lifetime, right after the tap reports its first restart.
    server = make_asana_server(
        workspace_gid=WORKSPACE, projects=4, tasks_per_project=110, latency_ms=300,
    )
    server.admin.set_settings(offset_ttl=0.2)
    run = LiveRun(ingest(source_uri(server), "tasks", None, "--debug"), tmp_path)
    try:
        restart = run.wait_for_line("Restarting the listing of /tasks")
        server.admin.set_settings(offset_ttl=900)
        code = run.wait()
    finally:
        run.close()

    assert "expired" in restart
    assert code == ExitCode.OK, run.stderr[-3000:]
    _check_tables(server, tmp_path, ("tasks",))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("faults", "tables"),
    [
        (RATE_LIMIT, ("stories",)),
        (RATE_LIMIT_WITHOUT_RETRY_AFTER, ("stories",)),
        (SERVER_ERRORS, ("tasks", "stories", "users", "sections")),
        ({"p_drop": 0.05}, ("tasks", "stories", "projects")),
        (LATENCY, ("tasks", "stories")),
        ({**RATE_LIMIT, **SERVER_ERRORS, **DROPS, **LATENCY}, ("tasks", "stories")),
    ],
    ids=["rate limit", "429 without Retry-After", "server errors", "dropped connections",
         "latency", "all together"],
)
def test_single_fault_heals(
    make_asana_server: MakeServer, tmp_path: Path, faults: dict[str, Any], tables: tuple[str, ...]
) -> None:
    # Stories take one request per task: about 75 here, more than a minute's quota of 60.
    server = make_asana_server(workspace_gid=WORKSPACE, offset_ttl=2, **faults)

    stderr = _load(server, tmp_path, tables)

    if faults != LATENCY:
        assert "Retrying in" in stderr, "no fault reached the tap, so the case proved nothing"
    _check_tables(server, tmp_path, tables)


@pytest.mark.slow
def test_run_waits_out_exhausted_quota(make_asana_server: MakeServer, tmp_path: Path) -> None:
    # An earlier job used up the token's quota, and 429s carry no Retry-After: the workspace
    # lookup must keep backing off until the 60-second window has room, as the tap does.
    server = make_asana_server(workspace_gid=WORKSPACE, rpm=20, retry_after=False)
    headers = {"Authorization": f"Bearer {server.token}"}
    for _ in range(20):
        requests.get(f"{server.base_url}/users/me", headers=headers, timeout=10)

    result = run_cli(ingest(source_uri(server), "tasks"), tmp_path)

    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    _check_tables(server, tmp_path, ("tasks",))
