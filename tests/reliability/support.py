"""Helpers for the reliability suite: the real `omniload` CLI as a subprocess, live runs that a
test can watch and kill, comparison with the server's ground truth, and integrity checks."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import duckdb

from tests.asana_server import AsanaServer
from tests.cli.support import OMNILOAD, clean_environment, expected_rows

WORKSPACE = "workspace-rel"
# Tables a run may leave in the DuckDB file besides the destination tables.
STATE_TABLE = "_omniload.state"
# Maximum seconds that one CLI run on the small data sets may take before a test gives up.
RUN_TIMEOUT_SECONDS = 300
MakeServer = Callable[..., AsanaServer]


def new_token() -> str:
    """Return a random token in the form of an Asana personal access token."""
    return "0/" + secrets.token_hex(16)


def source_uri(server: AsanaServer, token: str | None = None, workspace: str = WORKSPACE) -> str:
    """Return an `asana://` URI for `workspace` on the local server."""
    return f"asana://{workspace}?access_token={token or server.token}&api_url={server.base_url}"


def ingest(uri: str, table: str, dest_table: str | None = None, *extra: str) -> list[str]:
    """Return the arguments of `omniload ingest` loading `table` into ./work.db."""
    return [
        "ingest",
        "--source-uri", uri,
        "--source-table", table,
        "--dest-uri", "duckdb:///work.db",
        "--dest-table", dest_table or f"public.{table}",
        *extra,
    ]


def run_environment(folder: Path, **extra: str) -> dict[str, str]:
    """Return a clean environment whose temporary folder is `folder`/tmp, so that every file
    a run creates, including the ones it removes later, lands under `folder`."""
    temporary = folder / "tmp"
    temporary.mkdir(exist_ok=True)
    return clean_environment(TMPDIR=str(temporary), **extra)


def run_cli(arguments: list[str], folder: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run `omniload` with `arguments` in `folder` and wait for it to end."""
    return subprocess.run(  # noqa: S603 - the installed omniload of this checkout
        [OMNILOAD, *arguments],
        cwd=folder,
        env=run_environment(folder, **environment),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    """Return the lines of `stderr` that omniload prints for a failure."""
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


class LiveRun:
    """A running `omniload` in its own process group, whose output the test reads as it comes.

    `--debug` makes omniload echo the tap's and the target's log lines, which is how a test
    confirms that the run reached a named phase before killing it.
    """

    def __init__(self, arguments: list[str], folder: Path, **environment: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the installed omniload of this checkout
            [OMNILOAD, *arguments],
            cwd=folder,
            env=run_environment(folder, **environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout_lines),
                             daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr_lines),
                             daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    def wait_for_line(self, fragment: str, timeout: float = 120) -> str:
        """Return the first stderr line containing `fragment`; fail if the run ends first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.stderr_lines:
                    if fragment in line:
                        return line
                if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise AssertionError(
                        f"omniload ended (exit {self.process.returncode}) before printing "
                        f"{fragment!r}:\n{self.stderr}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no line with {fragment!r} after {timeout} s:\n{self.stderr}")
                self._changed.wait(min(remaining, 0.2))

    def wait_until(self, condition: Callable[[], bool], description: str, timeout: float = 120) -> None:
        """Poll `condition` until it holds; fail if the run ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"omniload ended (exit {self.process.returncode}) before {description}:\n{self.stderr}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"not {description} after {timeout} s:\n{self.stderr}")
            time.sleep(0.02)

    def descendants(self) -> dict[int, str]:
        """Return the pid and command line of every live descendant of omniload."""
        return {pid: command for pid, command in _descendants(self.process.pid).items()}

    def child(self, executable: str) -> int | None:
        """Return the pid of a live descendant whose command line runs `executable`."""
        for pid, command in self.descendants().items():
            if executable in command.split(" ")[0] or f"/{executable} " in command:
                return pid
        return None

    def kill_group(self) -> list[int]:
        """SIGKILL omniload's process group; return the descendants alive just before."""
        children = list(self.descendants())
        os.killpg(self.process.pid, signal.SIGKILL)
        self.wait()
        return children

    def wait(self, timeout: float = RUN_TIMEOUT_SECONDS) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(10)
        self._close_pipes()
        return code

    def close(self) -> None:
        """Kill the run if it is still going and close its pipes; used in `finally` blocks."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for reader in self._readers:
            reader.join(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def _descendants(root: int) -> dict[int, str]:
    parents: dict[int, list[int]] = collections.defaultdict(list)
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The command name in brackets may contain spaces, so the fields are split after the last
        # ')'. The process state comes first, then the parent pid.
        fields = status.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        parents[int(fields[1])].append(int(entry.name))
        commands[int(entry.name)] = command.strip()
    found: dict[int, str] = {}
    pending = [root]
    while pending:
        for child in parents.get(pending.pop(), []):
            found[child] = commands.get(child, "")
            pending.append(child)
    return found


def wait_for_exit(pids: list[int], timeout: float = 30) -> list[int]:
    """Return the pids among `pids` still alive after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _is_alive(pid)]
        time.sleep(0.05)
    return alive


def _is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# DuckDB contents


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def table_rows(path: Path, table: str) -> dict[str, dict[str, Any]]:
    """Return every row of `table` by gid; fail on a duplicate gid."""
    connection = connect(path)
    try:
        cursor = connection.execute(f"SELECT * FROM {table} ORDER BY gid")  # noqa: S608
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    finally:
        connection.close()
    gids = [row["gid"] for row in rows]
    duplicates = sorted(gid for gid, count in collections.Counter(gids).items() if count > 1)
    assert not duplicates, f"{table} has duplicate gids: {duplicates[:5]}"
    return {row["gid"]: row for row in rows}


def table_names(path: Path) -> set[str]:
    """Return `schema.table` of every table and view in the DuckDB file, temporary ones too."""
    connection = connect(path)
    try:
        tables = connection.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    finally:
        connection.close()
    return {name for (name,) in tables}


def stored_state(path: Path) -> dict[str, Any]:
    """Return the rows of omniload's state table as {key: value}, or {} when it is absent."""
    if STATE_TABLE not in table_names(path):
        return {}
    connection = connect(path)
    try:
        rows = connection.execute(f"SELECT key, value FROM {STATE_TABLE}").fetchall()  # noqa: S608
    finally:
        connection.close()
    return {key: json.loads(value) for key, value in rows}


def assert_only_tables(path: Path, expected: set[str]) -> None:
    """Check that a run left no lock, staging or temporary table behind."""
    names = table_names(path)
    assert names <= expected | {STATE_TABLE}, f"unexpected tables: {sorted(names - expected)}"


def assert_state_not_ahead(path: Path, server: AsanaServer, workspace: str = WORKSPACE) -> None:
    """Check that every task a stored bookmark covers is in public.tasks in its current form.

    A bookmark `b` of project `p` promises that a later run may skip every task of `p` with
    `modified_at` < `b`; so each such task must already be loaded with that `modified_at`.
    """
    snapshot = server.admin.snapshot()
    truth = expected_rows(snapshot, "tasks", workspace)
    loaded = table_rows(path, "public.tasks") if "public.tasks" in table_names(path) else {}
    for key, value in stored_state(path).items():
        if f":{workspace}:tasks:" not in key:
            continue
        partitions = value.get("bookmarks", {}).get("tasks", {}).get("partitions", [])
        for partition in partitions:
            bookmark = partition.get("replication_key_value")
            project = partition["context"]["project_gid"]
            if bookmark is None:
                continue
            covered = [
                task for task in truth.values()
                if any(item["gid"] == project for item in task["projects"])
                and task["modified_at"] < bookmark
            ]
            for task in covered:
                row = loaded.get(task["gid"])
                assert row is not None, f"state of project {project} is past missing task {task['gid']}"
                assert _instant(row["modified_at"]) == _instant(task["modified_at"]), (
                    f"state of project {project} is past task {task['gid']} loaded in an older form"
                )


# Ground truth


def truth(server: AsanaServer, table: str, workspace: str = WORKSPACE) -> dict[str, dict[str, Any]]:
    """Return the server's current ground truth for `table`, by gid."""
    return expected_rows(server.admin.snapshot(), table, workspace)


def differences(loaded: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> list[str]:
    """Return what differs between loaded rows and ground-truth records, empty when they match.

    Every column that the ground-truth record also has is compared. Scalars are compared by
    value (date-times as instants). Objects and lists are compared by the gids of the objects
    they reference, because the tap requests fewer fields of a referenced object than the
    snapshot contains.
    """
    problems = []
    missing = sorted(set(expected) - set(loaded))
    extra = sorted(set(loaded) - set(expected))
    if missing:
        problems.append(f"{len(missing)} rows missing, such as {missing[:3]}")
    if extra:
        problems.append(f"{len(extra)} rows not on the server, such as {extra[:3]}")
    for gid in sorted(set(expected) & set(loaded)):
        row, record = loaded[gid], expected[gid]
        for column, value in row.items():
            if column not in record:
                continue
            if not _same_value(value, record[column]):
                problems.append(f"{gid}.{column}: loaded {value!r}, server has {record[column]!r}")
                if len(problems) > 20:
                    return problems
    return problems


def _same_value(loaded: Any, expected: Any) -> bool:
    if expected is None or loaded is None:
        return loaded is None and expected is None
    if isinstance(expected, dict | list):
        parsed = json.loads(loaded) if isinstance(loaded, str) else loaded
        return sorted(_gids(parsed)) == sorted(_gids(expected))
    if isinstance(loaded, dt.datetime):
        return _instant(loaded) == _instant(expected)
    if isinstance(loaded, dt.date):
        return loaded.isoformat() == expected
    if isinstance(loaded, float | Decimal) or isinstance(expected, float):
        return float(loaded) == float(expected)
    return bool(loaded == expected)


def _gids(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "gid" in value:
            yield str(value["gid"])
            return
        for item in value.values():
            yield from _gids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _gids(item)


def _instant(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.UTC)


def assert_matches_truth(path: Path, server: AsanaServer, table: str,
                         dest_table: str | None = None) -> None:
    """Check that the loaded table has exactly the server's rows and values."""
    expected = truth(server, table)
    assert expected, f"the ground truth of {table} is empty, so the check would mean nothing"
    problems = differences(table_rows(path, dest_table or f"public.{table}"), expected)
    assert not problems, "\n".join(problems)


# Secrets


@dataclass
class TokenScan:
    """Every place a run could leave the token: texts it printed and files it created."""

    token: str
    texts: list[str] = field(default_factory=list)

    @property
    def forms(self) -> list[bytes]:
        """The token as typed and URL-encoded, since a URI carries the encoded form."""
        return sorted({self.token.encode(), quote(self.token, safe="").encode(),
                       quote_plus(self.token).encode()})

    def add(self, *texts: str) -> None:
        self.texts.extend(texts)

    def leaks(self, folder: Path) -> list[str]:
        """Return where the token was found: "output #n" or a file path under `folder`."""
        found = []
        for number, text in enumerate(self.texts):
            if any(form.decode() in text for form in self.forms):
                found.append(f"output #{number}")
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if any(form in data for form in self.forms):
                    found.append(str(path))
        return found

    def leaks_in_database(self, path: Path) -> list[str]:
        """Return the tables of the DuckDB file with a cell that contains the token."""
        found = []
        connection = connect(path)
        try:
            for schema, table in connection.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall():
                hits = connection.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" AS t '  # noqa: S608
                    "WHERE contains(CAST(t AS VARCHAR), ?)",
                    [self.token],
                ).fetchone()
                if hits and hits[0]:
                    found.append(f"{schema}.{table}")
        finally:
            connection.close()
        return found


def new_token_scan() -> TokenScan:
    """Return a scan for a new random token that has a character URL encoding changes."""
    return TokenScan(new_token())
