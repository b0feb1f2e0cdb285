"""Schema changes between and within runs: added, removed and retyped properties."""

from __future__ import annotations

import json
from pathlib import Path

from tests.target.helpers import column_types, query, record, run_in_process, schema


def _path(tmp_path: Path) -> str:
    return str(tmp_path / "changes.duckdb")


def test_new_property_adds_column(tmp_path: Path) -> None:
    path = _path(tmp_path)
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}}, ["id"]), record("s", {"id": 1})])
    wider = {"id": {"type": "integer"}, "extra": {"type": "string"}}
    run_in_process({"path": path}, [schema("s", wider, ["id"]), record("s", {"id": 2, "extra": "x"})])
    assert column_types(path, "main", "s") == {"id": "BIGINT", "extra": "VARCHAR"}
    assert query(path, "SELECT id, extra FROM s ORDER BY id") == [(1, None), (2, "x")]


def test_removed_property_column_stays(tmp_path: Path) -> None:
    path = _path(tmp_path)
    both = {"id": {"type": "integer"}, "gone": {"type": "string"}}
    run_in_process({"path": path}, [schema("s", both, ["id"]), record("s", {"id": 1, "gone": "old"})])
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}}, ["id"]), record("s", {"id": 2})])
    assert column_types(path, "main", "s") == {"id": "BIGINT", "gone": "VARCHAR"}
    assert query(path, "SELECT id, gone FROM s ORDER BY id") == [(1, "old"), (2, None)]


def test_integer_to_string_widens_in_place(tmp_path: Path) -> None:
    path = _path(tmp_path)
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"]), record("s", {"id": 1, "v": 10})])
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"]), record("s", {"id": 2, "v": "ten"})])
    assert column_types(path, "main", "s")["v"] == "VARCHAR"
    assert query(path, "SELECT id, v FROM s ORDER BY id") == [(1, "10"), (2, "ten")]


def test_scalar_to_object_widens_to_json(tmp_path: Path) -> None:
    path = _path(tmp_path)
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}, "v": {"type": "number"}}, ["id"]), record("s", {"id": 1, "v": 1.5})])
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}, "v": {"type": "object"}}, ["id"]), record("s", {"id": 2, "v": {"k": 1}})])
    assert column_types(path, "main", "s")["v"] == "JSON"
    values = [json.loads(v) for (v,) in query(path, "SELECT v FROM s ORDER BY id")]
    assert values == [1.5, {"k": 1}]


def test_narrower_declared_type_keeps_column(tmp_path: Path) -> None:
    path = _path(tmp_path)
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"]), record("s", {"id": 1, "v": "a"})])
    run_in_process({"path": path}, [schema("s", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"]), record("s", {"id": 2, "v": 7})])
    assert column_types(path, "main", "s")["v"] == "VARCHAR"
    assert query(path, "SELECT v FROM s ORDER BY id") == [("a",), ("7",)]


def test_schema_change_within_one_run(tmp_path: Path) -> None:
    path = _path(tmp_path)
    messages = [
        schema("s", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"]),
        record("s", {"id": 1, "v": 1}),
        schema("s", {"id": {"type": "integer"}, "v": {"type": "string"}, "w": {"type": "boolean"}}, ["id"]),
        record("s", {"id": 2, "v": "two", "w": True}),
        record("s", {"id": 1, "v": "one again", "w": False}),
    ]
    run_in_process({"path": path}, messages)
    assert column_types(path, "main", "s") == {"id": "BIGINT", "v": "VARCHAR", "w": "BOOLEAN"}
    assert query(path, "SELECT id, v, w FROM s ORDER BY id") == [(1, "one again", False), (2, "two", True)]


def test_schema_change_in_replaced_stream(tmp_path: Path) -> None:
    path = _path(tmp_path)
    messages = [
        schema("s", {"id": {"type": "integer"}, "v": {"type": "integer"}}, ["id"]),
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 1},
        record("s", {"id": 1, "v": 1}),
        schema("s", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"]),
        record("s", {"id": 2, "v": "two"}),
    ]
    run_in_process({"path": path, "batch_size_rows": 1}, messages)
    assert column_types(path, "main", "s") == {"id": "BIGINT", "v": "VARCHAR"}
    assert query(path, "SELECT id, v FROM s ORDER BY id") == [(1, "1"), (2, "two")]
