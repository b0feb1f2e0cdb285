"""Bad input stops cleanly: one `Error:` line, a documented exit code, the DuckDB file unchanged.

Every case runs the installed `omniload` (or `target-duckdb` for malformed Singer input) as a
subprocess, in a folder that already contains a loaded DuckDB file, and checks that nothing in the
folder changed, that no traceback was printed and that the token was not echoed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from omniload.errors import ExitCode
from tests.asana_server import AsanaServer, ServerConfig
from tests.reliability.support import (
    WORKSPACE,
    LiveRun,
    assert_matches_truth,
    error_lines,
    new_token,
    run_cli,
    stored_state,
)

USAGE = ExitCode.USAGE_ERROR
SOURCE = ExitCode.SOURCE_ERROR
DESTINATION = ExitCode.DESTINATION_ERROR

# (case id, option overrides, extra arguments, environment, exit code, text in the error).
# "{token}", "{api}" and "{port}" are filled in per test; None drops the option.
CASES: list[tuple[str, dict[str, Any], tuple[str, ...], dict[str, str], ExitCode, str]] = [
    ("source with one slash", {"--source-uri": "asana:/{ws}?access_token={token}"}, (), {},
     USAGE, "--source-uri"),
    ("source with trailing space", {"--source-uri": "asana://{ws}?access_token={token} "}, (), {},
     USAGE, "whitespace"),
    ("token typed as workspace", {"--source-uri": "asana://{token}"}, (), {}, USAGE,
     "--source-uri"),
    ("token given twice", {"--source-uri": "asana://{ws}?access_token={token}&access_token=x"},
     (), {}, USAGE, "given twice"),
    ("api_url without host", {"--source-uri": "asana://{ws}?access_token={token}&api_url=http://"},
     (), {}, USAGE, "api_url"),
    ("token variable empty", {"--source-uri": "asana://{ws}?api_url={api}"}, (),
     {"ASANA_ACCESS_TOKEN": ""}, USAGE, "is empty"),
    ("token variable with newline", {"--source-uri": "asana://{ws}?api_url={api}"}, (),
     {"ASANA_ACCESS_TOKEN": "{token}\nx"}, USAGE, "whitespace or control"),
    ("unknown workspace", {"--source-uri": "asana://404404?access_token={token}&api_url={api}"},
     (), {}, SOURCE, "not found"),
    ("wrong token", {"--source-uri": "asana://{ws}?access_token=0/wrong&api_url={api}"}, (), {},
     SOURCE, "rejected the access token"),
    ("api_url not an asana api", {"--source-uri": "asana://{ws}?access_token={token}"
                                                  "&api_url=http://127.0.0.1:{port}/nothing"},
     (), {}, SOURCE, "not found"),
    ("table in capitals", {"--source-table": "TASKS"}, (), {}, USAGE, "'TASKS'"),
    ("table with sql", {"--source-table": "tasks; drop table x"}, (), {}, USAGE,
     "--source-table"),
    ("table empty", {"--source-table": ""}, (), {}, USAGE, "Missing --source-table"),
    ("destination name with quote", {"--dest-table": 'public."tasks"'}, (), {}, USAGE,
     "--dest-table"),
    ("destination name with two dots", {"--dest-table": "main.public.tasks"}, (), {}, USAGE,
     "exactly one '.'"),
    ("destination name with sql", {"--dest-table": "public.t; DROP TABLE public.tasks"}, (), {},
     USAGE, "--dest-table"),
    ("destination name with digit first", {"--dest-table": "public.1tasks"}, (), {}, USAGE,
     "must start with a letter"),
    ("destination name without schema", {"--dest-table": ".tasks"}, (), {}, USAGE,
     "must start with a letter"),
    ("destination name too long", {"--dest-table": "public." + "t" * 64}, (), {}, USAGE,
     "at most 63"),
    ("destination reserved schema in capitals", {"--dest-table": "_OMNILOAD.state"}, (), {},
     USAGE, "omniload's state"),
    ("destination name not ascii", {"--dest-table": "public.tâches"}, (), {}, USAGE,
     "--dest-table"),
    ("destination uri without path", {"--dest-uri": "duckdb://"}, (), {}, USAGE,
     "path is missing"),
    ("destination uri with nul", {"--dest-uri": "duckdb:///work%00.db"}, (), {}, USAGE,
     "NUL"),
    ("destination under a file", {"--dest-uri": "duckdb:///notes.txt/work.db"}, (), {},
     DESTINATION, "is not a folder"),
    ("destination is a folder", {"--dest-uri": "duckdb:///sub"}, (), {}, DESTINATION,
     "is a folder"),
    ("destination not duckdb", {"--dest-uri": "duckdb:///notes.txt"}, (), {}, DESTINATION,
     "Cannot open"),
    ("destination truncated duckdb", {"--dest-uri": "duckdb:///broken.db"}, (), {}, DESTINATION,
     "broken.db"),
    ("interval month 13", {}, ("--interval-start", "2024-13-01"), {}, USAGE, "ISO 8601"),
    ("interval on stories", {"--source-table": "stories"}, ("--interval-end", "2024-01-01"), {},
     USAGE, "does not apply"),
    ("strategy in capitals", {}, ("--incremental-strategy", "MERGE"), {}, USAGE, "'MERGE'"),
    ("progress from environment", {}, (), {"OMNILOAD_PROGRESS": "bar"}, USAGE,
     "OMNILOAD_PROGRESS"),
    ("full refresh with append", {}, ("--full-refresh", "--incremental-strategy", "append"), {},
     USAGE, "cannot be combined"),
]
# The default run keeps one case of each group; the others are marked slow.
DEFAULT_CASES = {"token typed as workspace", "wrong token", "destination name with sql",
                 "destination truncated duckdb", "interval month 13", "table with sql"}


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Return the digest and mtime of every file under `folder`, except the temporary folder."""
    return {
        str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(),
                                        path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "tmp" not in path.relative_to(folder).parts
    }


@pytest.fixture(scope="module")
def loaded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AsanaServer, Path]]:
    """A server with a random token, and a DuckDB file loaded from it."""
    with AsanaServer(ServerConfig(workspace_gid=WORKSPACE, token=new_token())) as server:
        folder = tmp_path_factory.mktemp("loaded")
        uri = f"asana://{WORKSPACE}?access_token={server.token}&api_url={server.base_url}"
        result = run_cli(["ingest", "--source-uri", uri, "--source-table", "tasks",
                          "--dest-uri", "duckdb:///work.db", "--dest-table", "public.tasks"], folder)
        assert result.returncode == ExitCode.OK, result.stderr
        yield server, folder / "work.db"


@pytest.fixture
def loaded_folder(loaded_server: tuple[AsanaServer, Path], tmp_path: Path) -> tuple[AsanaServer, Path]:
    """A folder with a copy of the loaded file, a text file, a folder and a broken file."""
    server, loaded = loaded_server
    shutil.copy(loaded, tmp_path / "work.db")
    (tmp_path / "sub").mkdir()
    (tmp_path / "notes.txt").write_text("not a database\n")
    (tmp_path / "broken.db").write_bytes(loaded.read_bytes()[:6000])
    return server, tmp_path


def _fill(text: str, server: AsanaServer) -> str:
    port = server.base_url.split(":")[2].split("/")[0]
    return (text.replace("{token}", server.token or "").replace("{api}", server.base_url)
            .replace("{ws}", WORKSPACE).replace("{port}", port))


def _arguments(server: AsanaServer, overrides: dict[str, Any], extra: tuple[str, ...]) -> list[str]:
    options = {
        "--source-uri": "asana://{ws}?access_token={token}&api_url={api}",
        "--source-table": "tasks",
        "--dest-uri": "duckdb:///work.db",
        "--dest-table": "public.tasks",
        **overrides,
    }
    arguments = ["ingest"]
    for name, value in options.items():
        if value is not None:
            arguments += [name, _fill(value, server)]
    return arguments + list(extra)


def test_bad_input_has_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert DEFAULT_CASES <= {case[0] for case in CASES}


@pytest.mark.parametrize(
    ("overrides", "extra", "environment", "exit_code", "fragment"),
    [pytest.param(*case[1:], id=case[0], marks=() if case[0] in DEFAULT_CASES else pytest.mark.slow)
     for case in CASES],
)
def test_bad_input_stops_cleanly(
    loaded_folder: tuple[AsanaServer, Path],
    overrides: dict[str, Any],
    extra: tuple[str, ...],
    environment: dict[str, str],
    exit_code: ExitCode,
    fragment: str,
) -> None:
    server, folder = loaded_folder
    before = _fingerprint(folder)
    filled = {name: _fill(value, server) for name, value in environment.items()}

    result = run_cli(_arguments(server, overrides, extra), folder, **filled)

    errors = error_lines(result.stderr)
    assert result.returncode == exit_code, result.stderr
    assert len(errors) == 1, result.stderr
    assert result.stderr.splitlines()[-1] == errors[0]
    assert fragment in errors[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert server.token not in result.stderr
    assert _fingerprint(folder) == before


def _holds_file(pid: int, path: Path) -> bool:
    """Return whether process `pid` has `path` open."""
    try:
        return any(
            os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd")
        )
    except OSError:
        return False


def test_second_concurrent_run_is_rejected(loaded_folder: tuple[AsanaServer, Path]) -> None:
    server, folder = loaded_folder
    server.admin.touch_tasks(count=3)
    arguments = _arguments(server, {}, ("--debug",))
    server.admin.set_faults(latency_ms=1500)
    first = LiveRun(arguments, folder)
    try:
        # The target opens the file at the first SCHEMA message and keeps it until it ends.
        first.wait_until(
            lambda: (pid := first.child("target-duckdb")) is not None
            and _holds_file(pid, folder / "work.db"),
            "target-duckdb opening work.db",
        )
        second = run_cli(_arguments(server, {}, ()), folder)
        server.admin.set_faults(latency_ms=0)
        first_code = first.wait()
    finally:
        first.close()

    assert second.returncode == DESTINATION, second.stderr
    errors = error_lines(second.stderr)
    assert len(errors) == 1, second.stderr
    assert "locked by another process" in errors[0]
    assert first_code == ExitCode.OK, first.stderr[-3000:]
    assert_matches_truth(folder / "work.db", server, "tasks")


@pytest.mark.parametrize(
    "value", ['"a text"', '{"bookmarks": 5}', '{"bookmarks": {"tasks": []}}'],
    ids=["text", "bookmarks not an object", "bookmark not an object"],
)
def test_corrupt_stored_state_is_rejected(loaded_folder: tuple[AsanaServer, Path], value: str) -> None:
    server, folder = loaded_folder
    connection = duckdb.connect(str(folder / "work.db"))
    connection.execute("UPDATE _omniload.state SET value = ?", [value])
    connection.close()
    before = _fingerprint(folder)
    server.admin.reset_counts()

    result = run_cli(_arguments(server, {}, ()), folder)
    after = _fingerprint(folder)
    requests = server.admin.counts()
    refreshed = run_cli(_arguments(server, {}, ("--full-refresh",)), folder)

    errors = error_lines(result.stderr)
    assert result.returncode == DESTINATION, result.stderr
    assert len(errors) == 1, result.stderr
    assert "Invalid stored state" in errors[0]
    assert "--full-refresh" in errors[0]
    assert "Traceback" not in result.stderr
    assert after == before
    assert requests == {}, "the state must be checked before the first request"
    # --full-refresh reads no state, and stores a valid one in place of the broken row.
    assert refreshed.returncode == ExitCode.OK, refreshed.stderr
    assert_matches_truth(folder / "work.db", server, "tasks")
    assert isinstance(next(iter(stored_state(folder / "work.db").values())), dict)


@pytest.mark.slow
def test_two_runs_started_together(loaded_folder: tuple[AsanaServer, Path]) -> None:
    server, folder = loaded_folder
    server.admin.touch_tasks(count=3)
    # Latency keeps each target holding the file for seconds, so the two runs overlap.
    server.admin.set_faults(latency_ms=1000)
    runs = [LiveRun(_arguments(server, {}, ()), folder) for _ in range(2)]
    try:
        codes = sorted(run.wait() for run in runs)
    finally:
        for run in runs:
            run.close()
        server.admin.set_faults(latency_ms=0)

    # Whichever opens the file second fails: before loading (4), or in its target (6).
    assert codes[0] == ExitCode.OK
    assert codes[1] in (DESTINATION, ExitCode.LOAD_FAILED)
    failed = next(run for run in runs if run.process.returncode != ExitCode.OK)
    errors = error_lines(failed.stderr)
    assert len(errors) == 1, failed.stderr
    assert "locked" in errors[0]
    assert_matches_truth(folder / "work.db", server, "tasks")


# Malformed Singer input, fed to target-duckdb as a user of the target alone would.

SCHEMA = {"type": "SCHEMA", "stream": "items", "key_properties": ["id"],
          "schema": {"type": "object", "properties": {"id": {"type": "integer"},
                                                      "name": {"type": "string"}}}}


def _record(number: int, **values: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "items", "record": {"id": number, "name": f"n{number}",
                                                            **values}}


def _state(step: int) -> dict[str, Any]:
    return {"type": "STATE", "value": {"step": step}}


def _run_target(folder: Path, lines: list[Any], **settings: Any) -> subprocess.CompletedProcess[str]:
    config = folder / "target.json"
    config.write_text(json.dumps({"path": str(folder / "items.db"), **settings}))
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("TARGET_DUCKDB")}
    return subprocess.run(  # noqa: S603 - this checkout's target
        [sys.executable, "-m", "target_duckdb", "--config", str(config)],
        input=text, capture_output=True, text=True, env=environment, timeout=120, check=False,
    )


def _items(folder: Path) -> list[tuple[int, str]]:
    connection = duckdb.connect(str(folder / "items.db"), read_only=True)
    try:
        return connection.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    finally:
        connection.close()


SINGER_CASES = [
    ("invalid json", ['{"type": "RECORD", "stream": "items", "record": {"id": 9'], "invalid JSON"),
    ("record before schema", [{"type": "RECORD", "stream": "other", "record": {"id": 1}}],
     "before its SCHEMA"),
    ("record breaks its schema", [_record(9, id="nine")], "items"),
    ("record without key", [{"type": "RECORD", "stream": "items", "record": {"name": "x"}}],
     "key property 'id'"),
    ("unknown message type", [{"type": "BOOKMARK", "value": {}}], "unknown Singer message"),
]


@pytest.mark.parametrize(("lines", "fragment"), [case[1:] for case in SINGER_CASES],
                         ids=[case[0] for case in SINGER_CASES])
def test_malformed_singer_input_keeps_file(tmp_path: Path, lines: list[Any], fragment: str) -> None:
    loaded = _run_target(tmp_path, [SCHEMA, _record(1), _record(2)])
    assert loaded.returncode == 0, loaded.stderr
    before = _items(tmp_path)

    result = _run_target(tmp_path, [SCHEMA, *lines])

    assert result.returncode == 1
    stderr_lines = result.stderr.strip().splitlines()
    assert stderr_lines[-1].startswith("target-duckdb: error: "), result.stderr
    assert fragment in stderr_lines[-1]
    assert "Traceback" not in result.stderr
    assert _items(tmp_path) == before


def test_failure_mid_load_keeps_committed_batches(tmp_path: Path) -> None:
    settings = {"batch_size_rows": 2, "state_table": "_omniload.state", "state_key": "k"}
    lines = [SCHEMA, _record(1), _record(2), _state(1), _record(3), _record(4), _state(2),
             _record(5), "not json"]

    result = _run_target(tmp_path, lines, **settings)

    assert result.returncode == 1
    assert "invalid JSON" in result.stderr.strip().splitlines()[-1]
    rows = _items(tmp_path)
    states = stored_state(tmp_path / "items.db")
    # Whole batches of two rows only, and the stored state covers no row that is missing.
    assert len(rows) in (2, 4)
    assert rows == [(number, f"n{number}") for number in range(1, len(rows) + 1)]
    if states:
        assert states["k"]["step"] * 2 <= len(rows)
