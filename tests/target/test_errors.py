"""Bad input ends in one error line, a non-zero exit, and no change past committed batches."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.target.helpers import (
    activate_version,
    query,
    record,
    run_cli,
    schema,
    state,
    states_of,
    table_names,
)

ITEM = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}}


def _config(tmp_path: Path, **extra: object) -> dict:
    return {"path": str(tmp_path / "errors.duckdb"), **extra}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "target-duckdb: error:" in line]


def _assert_one_line_error(stderr: str, *fragments: str) -> None:
    errors = _error_lines(stderr)
    assert len(errors) == 1, stderr
    for fragment in fragments:
        assert fragment in errors[0]
    assert "Traceback" not in stderr


def _seed(tmp_path: Path, config: dict) -> None:
    """Write a previous run's rows: items 1-2 (merge) and users 'old' (replace)."""
    messages = [
        schema("items", ITEM, ["id"]),
        record("items", {"id": 1, "name": "one"}),
        record("items", {"id": 2, "name": "two"}),
        schema("users", {"gid": {"type": "string"}}, ["gid"]),
        activate_version("users"),
        record("users", {"gid": "old"}),
    ]
    result = run_cli(tmp_path, config, messages)
    assert result.returncode == 0, result.stderr


def _committed_batch_then(bad_line: dict | str) -> list[dict | str]:
    """Return input where one batch commits (batch_size_rows=2), then `bad_line` comes."""
    return [
        schema("items", ITEM, ["id"]),
        schema("users", {"gid": {"type": "string"}}, ["gid"]),
        activate_version("users"),
        record("users", {"gid": "new"}),
        record("items", {"id": 3, "name": "three"}),
        record("items", {"id": 4, "name": "four"}),
        state({"items": 4}),
        record("items", {"id": 5, "name": "five"}),
        bad_line,
        record("items", {"id": 6, "name": "six"}),
        state({"items": 6}),
    ]


def _assert_only_committed_batch_landed(config: dict, result) -> None:
    ids = [row[0] for row in query(config["path"], "SELECT id FROM items ORDER BY id")]
    assert ids == [1, 2, 3, 4]
    # The replace in progress left the old table.
    assert query(config["path"], "SELECT gid FROM users") == [("old",)]
    assert table_names(config["path"]) == {"main.items", "main.users"}
    # A STATE that waits for the replace is not emitted, and none covers lost rows.
    assert all(value["items"] <= 4 for value in states_of(result))


def test_malformed_json_names_line(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=2)
    _seed(tmp_path, config)
    result = run_cli(tmp_path, config, _committed_batch_then('{"type": "RECORD", "stream": "items", "record": {"id": 7,'))
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "Line 9", "invalid JSON")
    _assert_only_committed_batch_landed(config, result)


def test_malformed_record_line_found_by_loader(tmp_path: Path) -> None:
    # The line starts like a RECORD, so it takes the fast path and DuckDB finds the error.
    config = _config(tmp_path, batch_size_rows=2)
    _seed(tmp_path, config)
    bad = '{"type": "RECORD", "stream": "items", "record": {"id": 7, "name": }}'
    result = run_cli(tmp_path, config, _committed_batch_then(bad))
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "Line 9", "invalid JSON")
    _assert_only_committed_batch_landed(config, result)


def test_record_before_schema_rejected(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=2)
    _seed(tmp_path, config)
    result = run_cli(tmp_path, config, _committed_batch_then(record("unknown", {"id": 1})))
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "Line 9", "'unknown'", "SCHEMA")
    _assert_only_committed_batch_landed(config, result)


def test_missing_key_names_stream_and_key(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=2)
    _seed(tmp_path, config)
    result = run_cli(tmp_path, config, _committed_batch_then(record("items", {"name": "no id"})))
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "Line 9", "'items'", "'id'")
    _assert_only_committed_batch_landed(config, result)


def test_invalid_value_names_property(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=2)
    _seed(tmp_path, config)
    result = run_cli(tmp_path, config, _committed_batch_then(record("items", {"id": "seven"})))
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "Line 9", "'seven'", "'id'", "'items'")
    _assert_only_committed_batch_landed(config, result)


def test_locked_database_names_path(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _seed(tmp_path, config)
    holder = duckdb.connect(config["path"])
    try:
        result = run_cli(tmp_path, config, [schema("items", ITEM, ["id"]), record("items", {"id": 9})])
    finally:
        holder.close()
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, config["path"], "locked", "Close the program")
    assert [row[0] for row in query(config["path"], "SELECT id FROM items ORDER BY id")] == [1, 2]


def test_rejected_input_creates_no_file(tmp_path: Path) -> None:
    config = {"path": str(tmp_path / "new" / "never.duckdb")}
    result = run_cli(tmp_path, config, [schema("items", ITEM, ["id"]), "{broken"])
    assert result.returncode == 1
    _assert_one_line_error(result.stderr, "Line 2", "invalid JSON")
    assert not (tmp_path / "new").exists()


def test_debug_setting_shows_traceback(tmp_path: Path) -> None:
    result = run_cli(tmp_path, _config(tmp_path), "{oops\n", env={"TARGET_DUCKDB_DEBUG": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"stream_settings": {"items": {"strategy": "upsert"}}}, "strategy"),
        ({"stream_settings": {"log": {"strategy": "merge"}}}, "no key properties"),
        ({"state_table": "_omniload.state"}, "state_key"),
    ],
)
def test_invalid_settings_rejected(tmp_path: Path, settings: dict, fragment: str) -> None:
    messages = [schema("log", {"line": {"type": "string"}}), record("log", {"line": "x"})]
    result = run_cli(tmp_path, _config(tmp_path, **settings), messages)
    assert result.returncode != 0
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
