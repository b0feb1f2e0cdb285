"""Small inputs for each defect seen in the pipelinewise-style DuckDB target (PyPI 0.8.0)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from tests.target.helpers import (
    activate_version,
    column_types,
    query,
    record,
    run_cli,
    run_in_process,
    schema,
    state,
    table_names,
)


def _config(tmp_path: Path, **extra: object) -> dict:
    return {"path": str(tmp_path / "out.duckdb"), **extra}


def test_first_row_of_each_batch_kept(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=2)
    messages = [schema("items", {"id": {"type": "integer"}, "name": {"type": "string"}})]
    messages += [record("items", {"id": n, "name": f"item {n}"}) for n in range(1, 6)]
    run_in_process(config, messages)
    rows = query(config["path"], "SELECT id, name FROM items ORDER BY id")
    assert rows == [(n, f"item {n}") for n in range(1, 6)]


def test_timestamp_offset_honoured(tmp_path: Path) -> None:
    config = _config(tmp_path)
    properties = {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "clock": {"type": "string", "format": "time"},
    }
    messages = [
        schema("events", properties, ["id"]),
        record("events", {"id": 1, "at": "2024-03-01T10:00:00-03:00", "clock": "10:00:00-03:00"}),
        record("events", {"id": 2, "at": "2024-03-01T10:00:00Z", "clock": "10:00:00"}),
    ]
    run_in_process(config, messages)
    rows = query(config["path"], 'SELECT id, "at", CAST(clock AS VARCHAR) FROM events ORDER BY id')
    assert rows[0][1] == datetime.datetime(2024, 3, 1, 13, 0, tzinfo=datetime.UTC)
    assert rows[0][2] == "10:00:00-03"
    assert rows[1][1] == datetime.datetime(2024, 3, 1, 10, 0, tzinfo=datetime.UTC)


def test_empty_string_stays_empty(tmp_path: Path) -> None:
    config = _config(tmp_path)
    messages = [
        schema("notes", {"id": {"type": "integer"}, "text": {"type": ["null", "string"]}}, ["id"]),
        record("notes", {"id": 1, "text": ""}),
        record("notes", {"id": 2, "text": None}),
    ]
    run_in_process(config, messages)
    assert query(config["path"], "SELECT id, text FROM notes ORDER BY id") == [(1, ""), (2, None)]


def test_state_emitted_after_commit(tmp_path: Path, monkeypatch) -> None:
    import duckdb

    from target_duckdb.target import TargetDuckDB

    config = _config(tmp_path, batch_size_rows=2)
    seen: list[tuple[dict, int]] = []

    def spy(self: TargetDuckDB, value: dict) -> None:
        # A second connection in the same process sees only committed rows.
        with duckdb.connect(config["path"]) as reader:
            row = reader.execute("SELECT count(*) FROM items").fetchone()
        seen.append((value, row[0] if row else 0))

    monkeypatch.setattr(TargetDuckDB, "_write_state_message", spy)
    messages: list[dict] = [schema("items", {"id": {"type": "integer"}}, ["id"])]
    for n in range(1, 7):
        messages.append(record("items", {"id": n}))
        messages.append(state({"items": n}))
    run_in_process(config, messages)
    assert seen, "no STATE was emitted"
    for value, committed in seen:
        assert committed >= value["items"]
    assert seen[-1][0] == {"items": 6}


def test_activate_version_replaces_table(tmp_path: Path) -> None:
    config = _config(tmp_path)
    properties = {"gid": {"type": "string"}, "name": {"type": "string"}}
    first = [schema("users", properties, ["gid"]), activate_version("users", 1)]
    first += [record("users", {"gid": gid, "name": gid.upper()}) for gid in ("a", "b", "c")]
    run_in_process(config, first)
    second = [schema("users", properties, ["gid"]), activate_version("users", 2)]
    second += [record("users", {"gid": "b", "name": "B2"}), record("users", {"gid": "d", "name": "D"})]
    second.append(activate_version("users", 2))
    run_in_process(config, second)
    assert query(config["path"], "SELECT gid, name FROM users ORDER BY gid") == [("b", "B2"), ("d", "D")]


def test_key_only_table_merges(tmp_path: Path) -> None:
    config = _config(tmp_path)
    messages = [schema("tags", {"gid": {"type": "string"}}, ["gid"])]
    messages += [record("tags", {"gid": gid}) for gid in ("x", "y", "x")]
    run_in_process(config, messages)
    run_in_process(config, messages)
    assert query(config["path"], "SELECT gid FROM tags ORDER BY gid") == [("x",), ("y",)]


def test_case_colliding_properties_distinct(tmp_path: Path) -> None:
    config = _config(tmp_path)
    properties = {"id": {"type": "integer"}, "name": {"type": "string"}, "Name": {"type": "string"}}
    messages = [schema("people", properties, ["id"]), record("people", {"id": 1, "name": "lower", "Name": "Upper"})]
    run_in_process(config, messages)
    # Sorted by code point, "Name" comes first and keeps its name; "name" gets "__2".
    assert list(column_types(config["path"], "main", "people")) == ["id", "name__2", "Name"]
    assert query(config["path"], 'SELECT "Name", "name__2" FROM people') == [("Upper", "lower")]


def test_double_quote_in_column_name(tmp_path: Path) -> None:
    config = _config(tmp_path)
    properties = {"id": {"type": "integer"}, 'say "hi"': {"type": "string"}, "select": {"type": "string"}}
    messages = [
        schema('odd "stream"', properties, ["id"]),
        record('odd "stream"', {"id": 1, 'say "hi"': "hello", "select": "reserved"}),
    ]
    run_in_process(config, messages)
    assert query(config["path"], 'SELECT "say ""hi""", "select" FROM "odd ""stream"""') == [("hello", "reserved")]


def test_empty_schema_property_kept_as_json(tmp_path: Path) -> None:
    config = _config(tmp_path)
    messages = [
        schema("things", {"id": {"type": "integer"}, "anything": {}}, ["id"]),
        record("things", {"id": 1, "anything": {"deep": [1, 2]}}),
        record("things", {"id": 2, "anything": "text"}),
        record("things", {"id": 3, "anything": 7}),
    ]
    run_in_process(config, messages)
    assert column_types(config["path"], "main", "things")["anything"] == "JSON"
    values = [json.loads(v) for (v,) in query(config["path"], "SELECT anything FROM things ORDER BY id")]
    assert values == [{"deep": [1, 2]}, "text", 7]


def test_failed_run_leaves_no_staging_tables(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=1)
    properties = {"gid": {"type": "string"}}
    run_in_process(config, [schema("users", properties, ["gid"]), record("users", {"gid": "old"})])
    failing = [
        schema("users", properties, ["gid"]),
        activate_version("users"),
        record("users", {"gid": "new1"}),
        record("users", {"gid": "new2"}),
        "{not json",
    ]
    result = run_cli(tmp_path, config, failing)
    assert result.returncode == 1
    assert table_names(config["path"]) == {"main.users"}
    assert query(config["path"], "SELECT gid FROM users") == [("old",)]
    assert not list(Path(config["path"]).parent.glob("*.tmp/*"))


def test_successful_run_leaves_no_staging_tables(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=1)
    messages = [
        schema("users", {"gid": {"type": "string"}}, ["gid"]),
        activate_version("users"),
        record("users", {"gid": "a"}),
        record("users", {"gid": "b"}),
        schema("tasks", {"gid": {"type": "string"}}, ["gid"]),
        record("tasks", {"gid": "t"}),
    ]
    result = run_cli(tmp_path, config, messages)
    assert result.returncode == 0, result.stderr
    assert table_names(config["path"]) == {"main.users", "main.tasks"}
