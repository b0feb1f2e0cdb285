"""Incremental state kept in the destination DuckDB file, in omniload's own schema.

target-duckdb writes each STATE message to ``STATE_TABLE`` under ``state_key`` in the same
transaction as the rows it covers, in the columns ``key``, ``value`` (JSON) and ``updated_at``.
omniload reads it back here, read-only, before a run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import duckdb

from omniload.errors import DestinationError, InvalidInputError
from omniload.uris import RESERVED_SCHEMA, DestinationTable

STATE_TABLE = f"{RESERVED_SCHEMA}.state"


def state_key(workspace: str, source_table: str, destination: DestinationTable) -> str:
    """Return the key of the state for one (workspace, source table, destination table).

    Workspace gids contain no ':' (the URI parser rejects it), and DuckDB identifiers are
    case-insensitive, so the destination is lowercased.
    """
    return f"asana:{workspace}:{source_table}:{str(destination).lower()}"


def open_read_only(path: str, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open `path` read-only, turning DuckDB's errors into one-line DestinationErrors.

    With `read_only` False it opens the file for writing, which fails while any other
    process has it open, even a reader.
    """
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as error:
        message = str(error).splitlines()[0]
        if "lock" in message.lower():
            raise DestinationError(
                f"DuckDB file {path} is locked by another process: close the program that has it "
                "open or wait for it to finish, "
                "then run omniload again."
            ) from error
        raise DestinationError(f"Cannot open {path} as a DuckDB database: {message}") from error
    except duckdb.Error as error:
        message = str(error).splitlines()[0]
        raise DestinationError(f"Cannot open {path} as a DuckDB database: {message}") from error


def read_state(path: str, key: str | None) -> dict[str, Any] | None:
    """Return the stored state for `key`, or None when the file, table or key does not exist.

    Opening the file also checks, before any network request, that it is a DuckDB database
    and that no other process has it open. With `key` None only this check runs.
    """
    if not os.path.exists(path):
        return None
    # The target opens the file for writing, so a reader in another process would stop it
    # after the whole extraction. Opening it for writing here finds that reader first.
    open_read_only(path, read_only=False).close()
    connection = open_read_only(path)
    if key is None:
        connection.close()
        return None
    try:
        schema, table = STATE_TABLE.split(".")
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()
        if not found or not found[0]:
            return None
        row = connection.execute(
            f'SELECT "value" FROM "{schema}"."{table}" WHERE "key" = ?',  # noqa: S608
            [key],
        ).fetchone()
    except duckdb.Error as error:
        message = str(error).splitlines()[0]
        raise DestinationError(f"Cannot read the state in {path}: {message}") from error
    finally:
        connection.close()
    if row is None or row[0] is None:
        return None
    return _checked_state(row[0], key, path)


def _checked_state(value: Any, key: str, path: str) -> dict[str, Any]:
    """Return the stored state as a dict; raise DestinationError if it is not a Singer state.

    A row edited by hand would otherwise reach tap-asana, which reads a JSON string as a file
    path and fails on other shapes with an AttributeError, after the workspace lookup.
    """
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        parsed = None
    bookmarks = parsed.get("bookmarks", {}) if isinstance(parsed, dict) else None
    if not isinstance(bookmarks, dict) or not all(
        isinstance(bookmark, dict) for bookmark in bookmarks.values()
    ):
        raise DestinationError(
            f"Invalid stored state {key!r} in {STATE_TABLE} of {path}: expected a JSON object "
            'such as {"bookmarks": {"tasks": {...}}}. Run with --full-refresh to reload the '
            "table and store a new state, or delete that row."
        )
    return dict(parsed)


def check_table_origin(path: str, source_table: str, destination: DestinationTable) -> None:
    """Raise InvalidInputError if omniload last loaded `destination` from another source table.

    The state keys record which source table loaded each destination table, in any workspace.
    The newest key counts, so a table that was dropped and then loaded from another source
    table belongs to that one. A table that omniload never loaded, or loaded with an interval
    run only (which stores no state), is not checked.
    """
    if not os.path.exists(path):
        return
    connection = open_read_only(path)
    try:
        schema, table = STATE_TABLE.split(".")
        tables = connection.execute(
            "SELECT lower(table_schema), lower(table_name) FROM information_schema.tables"
        ).fetchall()
        if (schema, table) not in tables:
            return
        if (destination.schema.lower(), destination.table.lower()) not in tables:
            return
        suffix = ":" + str(destination).lower()
        rows = connection.execute(
            f'SELECT "key" FROM "{schema}"."{table}" '  # noqa: S608
            'WHERE ends_with("key", ?) ORDER BY "updated_at" DESC NULLS LAST',
            [suffix],
        ).fetchall()
    except duckdb.Error as error:
        message = str(error).splitlines()[0]
        raise DestinationError(f"Cannot read the state in {path}: {message}") from error
    finally:
        connection.close()
    for (key,) in rows:
        # Keys are asana:WORKSPACE:SOURCE_TABLE:schema.table, and workspaces contain no ':'.
        parts = key.split(":", 3)
        if len(parts) != 4 or parts[0] != "asana" or parts[3] != suffix[1:]:
            continue
        loaded_from = parts[2]
        if loaded_from == source_table:
            return
        raise InvalidInputError(
            f"Invalid --dest-table {destination}: omniload loaded it from source table "
            f"{loaded_from!r}, so loading {source_table!r} would overwrite or mix its rows. "
            f"Choose another --dest-table, or drop {destination} first."
        )
