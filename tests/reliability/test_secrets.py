"""The access token stays secret on every path: success, faults, kills, bad input and --debug.

Each test uses a new random token and scans, for the token as typed and URL-encoded: stdout
and stderr of every run, the command lines of the running children, every file the runs
created (the temporary folder included, since TMPDIR points into the test folder), the bytes
of the DuckDB file and its WAL, and every cell of every table. A planted control shows that
the scan finds the token in each of those places.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest

from omniload.errors import ExitCode
from tests.reliability.support import (
    WORKSPACE,
    LiveRun,
    MakeServer,
    TokenScan,
    error_lines,
    ingest,
    new_token_scan,
    run_cli,
    source_uri,
    wait_for_exit,
)


def _check(scan: TokenScan, folder: Path) -> None:
    assert scan.leaks(folder) == []
    database = folder / "work.db"
    assert database.exists(), "the runs must have written the DuckDB file for the scan to count"
    assert scan.leaks_in_database(database) == []


def test_token_secret_on_success_faults_and_errors(
    make_asana_server: MakeServer, tmp_path: Path
) -> None:
    scan = new_token_scan()
    server = make_asana_server(workspace_gid=WORKSPACE, token=scan.token)
    uri = source_uri(server, scan.token)
    encoded_uri = uri.replace(scan.token, quote(scan.token, safe=""))
    runs = [
        ingest(uri, "tasks", None, "--debug", "--progress", "log"),
        ingest(encoded_uri, "users", None, "--debug"),
        # Bad input that reaches the server, and bad input rejected before it.
        ingest(uri.replace(WORKSPACE, "404404"), "tasks", None, "--debug"),
        ingest(uri, "tasks", "public.tasks;drop", "--debug"),
        ingest(f"asana://{scan.token}", "tasks", None, "--debug"),
        ingest(uri + "&api_url=http://127.0.0.1:9", "tasks", None, "--debug"),
    ]
    for arguments in runs:
        result = run_cli(arguments, tmp_path)
        scan.add(result.stdout, result.stderr)

    server.admin.touch_tasks(count=3)
    server.admin.set_faults(p500=0.1, p503=0.1, p_drop=0.05)
    faulty = run_cli(ingest(uri, "tasks", None, "--debug"), tmp_path)
    scan.add(faulty.stdout, faulty.stderr)
    from_environment = run_cli(
        ingest(f"asana://{WORKSPACE}?api_url={server.base_url}", "projects", None, "--debug"),
        tmp_path, ASANA_ACCESS_TOKEN=scan.token,
    )
    scan.add(from_environment.stdout, from_environment.stderr)

    assert faulty.returncode == ExitCode.OK, faulty.stderr[-3000:]
    assert "Retrying in" in faulty.stderr, "no fault reached the tap"
    assert from_environment.returncode == ExitCode.OK, from_environment.stderr[-3000:]
    assert "***" in "".join(scan.texts), "echoed URIs should show the mask"
    _check(scan, tmp_path)


@pytest.mark.slow
def test_token_secret_after_kills(make_asana_server: MakeServer, tmp_path: Path) -> None:
    scan = new_token_scan()
    server = make_asana_server(workspace_gid=WORKSPACE, token=scan.token)
    uri = source_uri(server, scan.token)
    first = run_cli(ingest(uri, "tasks"), tmp_path)
    assert first.returncode == ExitCode.OK, first.stderr
    scan.add(first.stdout, first.stderr)

    for victim in ("omniload", "target-duckdb"):
        server.admin.touch_tasks(count=3)
        server.admin.reset_counts()
        server.admin.set_faults(latency_ms=2000)
        run = LiveRun(ingest(uri, "tasks", None, "--debug"), tmp_path)
        try:
            run.wait_until(lambda: server.admin.counts().get("GET /tasks", 0) > 0, "listing tasks")
            commands = run.descendants().values()
            scan.add(*commands)
            assert any("tap-asana" in command for command in commands)
            if victim == "omniload":
                assert wait_for_exit(run.kill_group()) == []
            else:
                pid = run.child("target-duckdb")
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                server.admin.set_faults(latency_ms=0)
                assert run.wait() == ExitCode.LOAD_FAILED
        finally:
            run.close()
            server.admin.set_faults(latency_ms=0)
        scan.add(run.stdout, run.stderr)

    _check(scan, tmp_path)


def test_scan_finds_planted_token(tmp_path: Path) -> None:
    scan = new_token_scan()
    # A process that inserts a row and dies without a checkpoint leaves the row in the WAL.
    script = (
        "import duckdb, os, sys\n"
        "connection = duckdb.connect(sys.argv[1])\n"
        "connection.execute('CREATE TABLE planted (secret VARCHAR)')\n"
        "connection.execute('INSERT INTO planted VALUES (?)', [sys.argv[2]])\n"
        "os._exit(0)\n"
    )
    database = tmp_path / "work.db"
    subprocess.run([sys.executable, "-c", script, str(database), scan.token], check=True)  # noqa: S603
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "config.json").write_text(f'{{"t": "{quote(scan.token, safe="")}"}}')
    scan.add(f"Source: asana://1?access_token={scan.token}")

    found = scan.leaks(tmp_path)

    assert found[0] == "output #0"
    assert str(tmp_path / "tmp" / "config.json") in found
    assert str(tmp_path / "work.db.wal") in found
    assert scan.leaks_in_database(database) == ["main.planted"]
    connection = duckdb.connect(str(database))
    connection.execute("CHECKPOINT")
    connection.close()
    assert str(database) in TokenScan(scan.token).leaks(tmp_path)


@pytest.mark.slow
def test_token_with_url_special_characters(make_asana_server: MakeServer, tmp_path: Path) -> None:
    # An OAuth-style token with characters that URL encoding changes: '/', '+' and '='.
    scan = TokenScan(new_token_scan().token + "+x/y==")
    server = make_asana_server(workspace_gid=WORKSPACE, token=scan.token)
    encoded = quote(scan.token, safe="")
    uri = f"asana://{WORKSPACE}?access_token={encoded}&api_url={server.base_url}"

    codes = []
    for arguments in (
        ingest(uri, "tasks", None, "--debug"),
        ingest(uri.replace(WORKSPACE, "404404"), "tasks", None, "--debug"),
        ingest(uri + "&x=1", "tasks", None, "--debug"),
    ):
        result = run_cli(arguments, tmp_path)
        codes.append(result.returncode)
        scan.add(result.stdout, result.stderr)

    assert codes == [ExitCode.OK, ExitCode.SOURCE_ERROR, ExitCode.USAGE_ERROR]
    assert len(error_lines(scan.texts[-1])) == 1
    _check(scan, tmp_path)
