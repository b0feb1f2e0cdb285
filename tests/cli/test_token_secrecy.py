"""The access token appears in no output, log, state row or byte of the DuckDB file."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from tests.asana_server import AsanaServer
from tests.cli.support import (
    OMNILOAD,
    TABLES,
    clean_environment,
    ingest_arguments,
    run_omniload,
)

WORKSPACE = "workspace-1337"


def _files_containing(folder: Path, secret: bytes) -> list[str]:
    """Return the files under `folder` whose bytes contain `secret`."""
    return [
        str(path) for path in folder.rglob("*") if path.is_file() and secret in path.read_bytes()
    ]


def test_token_appears_nowhere(
    make_asana_server: Callable[..., AsanaServer], tmp_path: Path
) -> None:
    token = "0/" + secrets.token_hex(20)
    server = make_asana_server(workspace_gid=WORKSPACE, token=token)
    uri = f"asana://{WORKSPACE}?access_token={token}&api_url={server.base_url}"
    outputs: list[str] = []

    for table in TABLES:
        result = run_omniload([*ingest_arguments(uri, table), "--debug"], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    server.admin.touch_tasks(count=3)
    for arguments in (
        [*ingest_arguments(uri, "tasks"), "--debug", "--progress", "log"],
        ingest_arguments(uri, "tasks", "duckdb:///missing/work.db"),
        ingest_arguments(uri.replace("asana://", ""), "tasks"),
        ingest_arguments(uri.replace("asana://", "https://"), "tasks"),
        ingest_arguments(uri.replace(WORKSPACE, "404404"), "tasks", "duckdb://./work.db",
                         None, "--debug"),
        ingest_arguments(f"asana://{token}", "tasks"),
        ingest_arguments(uri + "&api_url=http://127.0.0.1:9", "tasks"),
        ingest_arguments(uri, "tasks", "duckdb:///work.db", "public.tasks", "--debug",
                         "--interval-start", "not-a-date"),
    ):
        result = run_omniload(arguments, cwd=tmp_path)
        outputs += [result.stdout, result.stderr]
    environment = clean_environment(ASANA_ACCESS_TOKEN=token)
    result = run_omniload(
        ingest_arguments(f"asana://{WORKSPACE}?api_url={server.base_url}", "users", "duckdb:///:memory:"),
        cwd=tmp_path, environment=environment,
    )
    outputs += [result.stdout, result.stderr]

    assert not [text for text in outputs if token in text]
    assert "***" in "".join(outputs), "the redaction mask should appear in echoed URIs"
    assert _files_containing(tmp_path, token.encode()) == []
    connection = duckdb.connect(str(tmp_path / "work.db"), read_only=True)
    rows = connection.execute("SELECT value FROM _omniload.state").fetchall()
    states = [state for (state,) in rows]
    connection.close()
    assert states, "the state table must have rows for this check to mean anything"
    assert not [state for state in states if token in str(state)]


def test_scan_finds_planted_token(tmp_path: Path) -> None:
    token = "0/" + secrets.token_hex(20)
    connection = duckdb.connect(str(tmp_path / "planted.db"))
    connection.execute("CREATE TABLE t AS SELECT ? AS secret", [token])
    connection.close()

    assert _files_containing(tmp_path, token.encode()) == [str(tmp_path / "planted.db")]


def test_token_stays_off_command_lines(
    make_asana_server: Callable[..., AsanaServer], tmp_path: Path
) -> None:
    token = "0/" + secrets.token_hex(20)
    server = make_asana_server(workspace_gid=WORKSPACE, token=token, latency_ms=20)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    environment = clean_environment(ASANA_ACCESS_TOKEN=token, TMPDIR=str(private_tmp))
    arguments = ingest_arguments(f"asana://{WORKSPACE}?api_url={server.base_url}", "stories")
    command_lines: list[bytes] = []

    with subprocess.Popen(  # noqa: S603
        [OMNILOAD, *arguments], cwd=tmp_path, env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) as process:
        while process.poll() is None:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    content = cmdline.read_bytes()
                except OSError:
                    continue
                if b"tap-asana" in content or b"target-duckdb" in content:
                    command_lines.append(content)
            time.sleep(0.05)

    assert process.returncode == 0
    assert command_lines, "the children must be seen for this check to mean anything"
    assert not [line for line in command_lines if token.encode() in line]
    assert list(private_tmp.iterdir()) == []
