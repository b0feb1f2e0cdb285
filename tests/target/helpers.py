"""Run target-duckdb on hand-written Singer messages and read back the DuckDB file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import duckdb

from target_duckdb.target import TargetDuckDB


def lines(messages: t.Iterable[dict | str]) -> str:
    """Return messages as Singer input text; strings are written as they are."""
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


def schema(stream: str, properties: dict, keys: list[str] | None = None) -> dict:
    """Return a SCHEMA message."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": keys or [],
    }


def record(stream: str, values: dict, **extra: t.Any) -> dict:
    """Return a RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": values, **extra}


def state(value: dict) -> dict:
    """Return a STATE message."""
    return {"type": "STATE", "value": value}


def activate_version(stream: str, version: int = 1) -> dict:
    """Return an ACTIVATE_VERSION message."""
    return {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


def run_in_process(config: dict, messages: t.Iterable[dict | str]) -> list[dict]:
    """Run the target class on the messages; return the STATE values it wrote to stdout."""
    target = TargetDuckDB(config=config, parse_env_config=False)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        target.listen(io.StringIO(lines(messages)))
    return [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]


def run_cli(
    tmp_path: Path, config: dict, messages: t.Iterable[dict | str] | str, env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m target_duckdb` as a user would, feeding the messages on stdin."""
    config_path = tmp_path / f"config-{os.getpid()}-{len(list(tmp_path.iterdir()))}.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    text = messages if isinstance(messages, str) else lines(messages)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TARGET_DUCKDB")}
    environment.update(env or {})
    return subprocess.run(  # noqa: S603 - runs this checkout's own target
        [sys.executable, "-m", "target_duckdb", "--config", str(config_path)],
        input=text,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def states_of(result: subprocess.CompletedProcess[str]) -> list[dict]:
    """Return the STATE values a CLI run wrote to stdout."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def query(path: Path | str, sql: str, parameters: list | None = None) -> list[tuple]:
    """Run a query on the DuckDB file, opened read-only."""
    with duckdb.connect(str(path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(sql, parameters or []).fetchall()


def column_types(path: Path | str, schema_name: str, table: str) -> dict[str, str]:
    """Return {column: DuckDB type} of a table, in column order."""
    rows = query(
        path,
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema_name, table],
    )
    return dict(rows)


def table_names(path: Path | str) -> set[str]:
    """Return every table in the file as 'schema.table', temporary ones included."""
    rows = query(path, "SELECT schema_name, table_name FROM duckdb_tables()")
    return {f"{schema_name}.{table}" for schema_name, table in rows}
