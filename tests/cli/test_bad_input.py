"""Bad input ends in one error line and a non-zero exit, with the DuckDB file untouched."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from omniload.cli import main
from omniload.errors import ExitCode

TOKEN = "tok-5f3a9c1e-bad-input"  # noqa: S105 - a made-up token the output must not contain
GOOD = {
    "--source-uri": f"asana://workspace-1337?access_token={TOKEN}&api_url=http://127.0.0.1:9/api/1.0",
    "--source-table": "tasks",
    "--dest-uri": "duckdb:///work.db",
    "--dest-table": "public.tasks",
}
USAGE = ExitCode.USAGE_ERROR
DESTINATION = ExitCode.DESTINATION_ERROR


def _arguments(overrides: dict[str, str | None], extra: tuple[str, ...] = ()) -> list[str]:
    options = {**GOOD, **overrides}
    arguments = ["ingest"]
    for name, value in options.items():
        if value is not None:
            arguments += [name, value]
    return arguments + list(extra)


# (case id, option overrides, extra arguments, environment, expected exit code, text in the error)
CASES = [
    ("source without scheme", {"--source-uri": f"workspace-1337?access_token={TOKEN}"}, (), {},
     USAGE, "asana:// is missing"),
    ("source with https scheme", {"--source-uri": f"https://app.asana.com/0/1?access_token={TOKEN}"},
     (), {}, USAGE, "unsupported scheme"),
    ("source without workspace", {"--source-uri": f"asana://?access_token={TOKEN}"}, (), {},
     USAGE, "workspace gid is missing"),
    ("source with path", {"--source-uri": f"asana://1/tasks?access_token={TOKEN}"}, (), {},
     USAGE, "unexpected path"),
    ("source with user info", {"--source-uri": f"asana://me:{TOKEN}@1"}, (), {},
     USAGE, "user info"),
    ("source with unknown parameter", {"--source-uri": f"asana://1?access_token={TOKEN}&x=1"},
     (), {}, USAGE, "unknown parameter 'x'"),
    ("source with empty token", {"--source-uri": "asana://1?access_token="}, (), {},
     USAGE, "is empty"),
    ("source without any token", {"--source-uri": "asana://1"}, (), {},
     USAGE, "Missing access token"),
    ("token variable with space", {"--source-uri": "asana://1"}, (),
     {"ASANA_ACCESS_TOKEN": f"{TOKEN} x"}, USAGE, "ASANA_ACCESS_TOKEN contains whitespace"),
    ("api_url not http", {"--source-uri": f"asana://1?access_token={TOKEN}&api_url=file:///etc"},
     (), {}, USAGE, "not an http"),
    ("source uri missing", {"--source-uri": None}, (), {}, USAGE, "Missing --source-uri"),
    ("unknown source table", {"--source-table": "task"}, (), {}, USAGE, "Did you mean 'tasks'"),
    ("source table missing", {"--source-table": None}, (), {}, USAGE, "Missing --source-table"),
    ("destination sqlite scheme", {"--dest-uri": "sqlite:///work.db"}, (), {},
     USAGE, "unsupported scheme"),
    ("destination without scheme", {"--dest-uri": "work.db"}, (), {},
     USAGE, "duckdb:// is missing"),
    ("destination in memory", {"--dest-uri": "duckdb:///:memory:"}, (), {}, USAGE, "in-memory"),
    ("destination with query", {"--dest-uri": "duckdb:///work.db?threads=1"}, (), {},
     USAGE, "query parameters"),
    ("destination folder missing", {"--dest-uri": "duckdb:///missing/work.db"}, (), {},
     DESTINATION, "missing does not exist"),
    ("destination is a folder", {"--dest-uri": "duckdb:///sub"}, (), {},
     DESTINATION, "is a folder"),
    ("destination not duckdb", {"--dest-uri": "duckdb:///notes.txt"}, (), {},
     DESTINATION, "Cannot open"),
    ("destination table without schema", {"--dest-table": "tasks"}, (), {},
     USAGE, "exactly one '.'"),
    ("destination table with quote", {"--dest-table": 'public."tasks'}, (), {},
     USAGE, "must start with a letter"),
    ("destination table with sql", {"--dest-table": "public.tasks;drop table t"}, (), {},
     USAGE, "must start with a letter"),
    ("destination table reserved schema", {"--dest-table": "_omniload.state"}, (), {},
     USAGE, "contains omniload's state"),
    ("unknown strategy", {}, ("--incremental-strategy", "upsert"), {}, USAGE, "'upsert'"),
    ("unknown strategy from environment", {}, (), {"OMNILOAD_INCREMENTAL_STRATEGY": "upsert"},
     USAGE, "from OMNILOAD_INCREMENTAL_STRATEGY"),
    ("full refresh with merge", {}, ("--full-refresh", "--incremental-strategy", "merge"), {},
     USAGE, "cannot be combined"),
    ("interval on users", {"--source-table": "users"}, ("--interval-start", "2024-01-01"), {},
     USAGE, "does not apply to table 'users'"),
    ("interval not a date", {}, ("--interval-start", "yesterday"), {}, USAGE, "ISO 8601"),
    ("interval reversed", {}, ("--interval-start", "2024-02-01", "--interval-end", "2024-01-01"),
     {}, USAGE, "is not before"),
    ("interval with full refresh", {}, ("--full-refresh", "--interval-end", "2024-01-01"), {},
     USAGE, "cannot be combined with --full-refresh"),
    ("unknown progress", {}, ("--progress", "bar"), {}, USAGE, "--progress 'bar'"),
    ("unknown option", {}, ("--dest-schema", "x"), {}, USAGE, "No such option"),
    ("flag from environment not boolean", {}, (), {"OMNILOAD_FULL_REFRESH": "maybe"},
     USAGE, "'maybe' is not a valid boolean. Recognized values: 0, 1,"),
    ("extra argument", {}, ("extra",), {}, USAGE,
     "unexpected extra argument (extra). Run '"),
    ("token joined with question mark",
     {"--source-uri": f"asana://1?access_token={TOKEN}?api_url=http://127.0.0.1:9/api/1.0"},
     (), {}, USAGE, "the access_token value contains '?'"),
    ("token variable with question mark", {"--source-uri": "asana://1"}, (),
     {"ASANA_ACCESS_TOKEN": f"{TOKEN}?x"}, USAGE,
     "ASANA_ACCESS_TOKEN contains characters that Asana tokens never contain"),
    ("source with ampersand before parameters",
     {"--source-uri": "asana://1&api_url=http://127.0.0.1:9/api/1.0"}, (),
     {"ASANA_ACCESS_TOKEN": TOKEN}, USAGE, "must start with '?', not '&'"),
]


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Return the digest and mtime of every file under `folder`."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a loaded DuckDB file, used as the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("OMNILOAD_") or name == "ASANA_ACCESS_TOKEN":
            monkeypatch.delenv(name)
    connection = duckdb.connect(str(tmp_path / "work.db"))
    connection.execute("CREATE SCHEMA public")
    connection.execute("CREATE TABLE public.tasks AS SELECT range::VARCHAR AS gid FROM range(50)")
    connection.close()
    (tmp_path / "sub").mkdir()
    (tmp_path / "notes.txt").write_text("not a database\n")
    return tmp_path


def test_bad_input_has_enough_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(
    ("overrides", "extra", "environment", "exit_code", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_fails_cleanly(
    workdir: Path,
    overrides: dict[str, str | None],
    extra: tuple[str, ...],
    environment: dict[str, str],
    exit_code: ExitCode,
    fragment: str,
) -> None:
    before = _fingerprint(workdir)

    result = CliRunner().invoke(main, _arguments(overrides, extra), env=environment)

    error_lines = result.stderr.splitlines()
    assert result.exit_code == exit_code, result.stderr
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith("Error: ")
    assert fragment in error_lines[0]
    assert "Traceback" not in result.output
    assert TOKEN not in result.output
    assert result.stdout == ""
    assert _fingerprint(workdir) == before
    connection = duckdb.connect(str(workdir / "work.db"), read_only=True)
    assert connection.execute("SELECT count(*) FROM public.tasks").fetchone() == (50,)
    connection.close()


def test_click_errors_are_one_sentence(workdir: Path) -> None:
    for arguments, environment in (
        (_arguments({}, ("extra",)), {}),
        (_arguments({}), {"OMNILOAD_FULL_REFRESH": "maybe"}),
        (_arguments({}, ("--dest-schema", "x")), {}),
    ):
        result = CliRunner().invoke(main, arguments, env=environment)

        (line,) = result.stderr.splitlines()
        message, separator, _ = line.partition(" Run '")
        assert separator, line
        assert message.endswith("."), line
        assert ": , " not in line
