"""The JSON Schema to DuckDB type table, checked on a real file."""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path

import pytest

from target_duckdb import types
from tests.target.helpers import column_types, query, record, run_in_process, schema

# (property schema, value sent, expected column type, expected value read back)
TYPE_TABLE = [
    ({"type": "string"}, "text", "VARCHAR", "text"),
    ({"type": ["null", "string"]}, "", "VARCHAR", ""),
    ({"type": "integer"}, 42, "BIGINT", 42),
    ({"type": "integer"}, -(2**63), "BIGINT", -(2**63)),
    ({"type": "number"}, 1.5, "DOUBLE", 1.5),
    ({"type": "number", "multipleOf": 0.01}, 12.34, "DECIMAL(38,2)", decimal.Decimal("12.34")),
    (
        {"type": "string", "format": "x-singer.decimal", "precision": 20, "scale": 4},
        "1234567890123456.1234",
        "DECIMAL(20,4)",
        decimal.Decimal("1234567890123456.1234"),
    ),
    ({"type": "number", "multipleOf": 0.25}, 0.75, "DOUBLE", 0.75),
    ({"type": "boolean"}, True, "BOOLEAN", True),
    (
        {"type": "string", "format": "date-time"},
        "2024-05-06T07:08:09.123+02:00",
        "TIMESTAMP WITH TIME ZONE",
        datetime.datetime(2024, 5, 6, 5, 8, 9, 123000, tzinfo=datetime.UTC),
    ),
    ({"type": "string", "format": "date"}, "2024-02-29", "DATE", datetime.date(2024, 2, 29)),
    ({"type": "object", "properties": {"a": {"type": "integer"}}}, {"a": 1}, "JSON", {"a": 1}),
    ({"type": "array", "items": {"type": "string"}}, ["x", "y"], "JSON", ["x", "y"]),
    ({}, {"free": "form"}, "JSON", {"free": "form"}),
    ({"type": ["string", "integer"]}, 5, "JSON", 5),
    ({"anyOf": [{"type": "string"}, {"type": "object"}]}, "plain", "JSON", "plain"),
    ({"anyOf": [{"type": "integer"}, {"type": "number"}, {"type": "null"}]}, 2.5, "DOUBLE", 2.5),
]


@pytest.mark.parametrize(("definition", "value", "expected_type", "expected"), TYPE_TABLE)
def test_type_table_row(tmp_path: Path, definition: dict, value: object, expected_type: str, expected: object) -> None:
    path = tmp_path / "types.duckdb"
    messages = [
        schema("typed", {"id": {"type": "integer"}, "v": definition}, ["id"]),
        record("typed", {"id": 1, "v": value}),
    ]
    run_in_process({"path": str(path)}, messages)
    assert column_types(path, "main", "typed")["v"] == expected_type
    [(stored,)] = query(path, "SELECT v FROM typed")
    if expected_type == "JSON":
        stored = json.loads(stored)
    assert stored == expected


def test_time_keeps_offset(tmp_path: Path) -> None:
    path = tmp_path / "types.duckdb"
    messages = [
        schema("clock", {"id": {"type": "integer"}, "t": {"type": "string", "format": "time"}}, ["id"]),
        record("clock", {"id": 1, "t": "23:30:00+05:30"}),
    ]
    run_in_process({"path": str(path)}, messages)
    assert column_types(path, "main", "clock")["t"] == "TIME WITH TIME ZONE"
    assert query(path, "SELECT CAST(t AS VARCHAR) FROM clock") == [("23:30:00+05:30",)]


def test_all_null_property_gets_column(tmp_path: Path) -> None:
    path = tmp_path / "types.duckdb"
    properties = {"id": {"type": "integer"}, "never": {"type": ["null", "string"], "format": "date"}}
    messages = [schema("sparse", properties, ["id"]), record("sparse", {"id": 1}), record("sparse", {"id": 2, "never": None})]
    run_in_process({"path": str(path)}, messages)
    assert column_types(path, "main", "sparse") == {"id": "BIGINT", "never": "DATE"}
    assert query(path, "SELECT count(*) FROM sparse WHERE never IS NULL") == [(2,)]


def test_stream_without_records_gets_table(tmp_path: Path) -> None:
    path = tmp_path / "types.duckdb"
    run_in_process({"path": str(path)}, [schema("empty", {"id": {"type": "integer"}, "x": {}}, ["id"])])
    assert column_types(path, "main", "empty") == {"id": "BIGINT", "x": "JSON"}


@pytest.mark.parametrize(
    ("value", "expected_type"),
    [(2**63, "HUGEINT"), (-(2**100), "HUGEINT"), (10**45, "VARCHAR")],
)
def test_wide_integer_keeps_digits(tmp_path: Path, value: int, expected_type: str) -> None:
    path = tmp_path / "types.duckdb"
    messages = [
        schema("wide", {"id": {"type": "integer"}, "n": {"type": "integer"}}, ["id"]),
        record("wide", {"id": 1, "n": 5}),
        record("wide", {"id": 2, "n": value}),
    ]
    run_in_process({"path": str(path)}, messages)
    assert column_types(path, "main", "wide")["n"] == expected_type
    rows = query(path, "SELECT CAST(n AS VARCHAR) FROM wide ORDER BY id")
    assert rows == [("5",), (str(value),)]


@pytest.mark.parametrize(
    ("existing", "declared", "expected"),
    [
        ("BIGINT", "BIGINT", "BIGINT"),
        ("BIGINT", "DOUBLE", "DOUBLE"),
        ("BIGINT", "HUGEINT", "HUGEINT"),
        ("BIGINT", "VARCHAR", "VARCHAR"),
        ("VARCHAR", "BIGINT", "VARCHAR"),
        ("TIMESTAMP WITH TIME ZONE", "DATE", "VARCHAR"),
        ("BIGINT", "JSON", "JSON"),
        ("VARCHAR", "JSON", "VARCHAR"),
        ("BOOLEAN", "BIGINT", "VARCHAR"),
        ("DECIMAL(18,2)", "DECIMAL(10,4)", "DECIMAL(20,4)"),
        ("DECIMAL(38,2)", "DECIMAL(10,4)", "DOUBLE"),
        ("BIGINT", "DECIMAL(10,2)", "DECIMAL(21,2)"),
    ],
)
def test_widen_rule(existing: str, declared: str, expected: str) -> None:
    assert types.widen(existing, declared) == expected


def test_integer_with_fraction_rejected(tmp_path: Path) -> None:
    from target_duckdb.errors import TargetError

    path = tmp_path / "types.duckdb"
    messages = [
        schema("counts", {"id": {"type": "integer"}, "n": {"type": "integer"}}, ["id"]),
        record("counts", {"id": 1, "n": 2.0}),
        record("counts", {"id": 2, "n": 1.5}),
    ]
    with pytest.raises(TargetError, match=r"Line 3: invalid value '1.5' for property 'n'"):
        run_in_process({"path": str(path)}, messages)


def test_integer_written_as_float_accepted(tmp_path: Path) -> None:
    path = tmp_path / "types.duckdb"
    messages = [
        schema("counts", {"id": {"type": "integer"}, "n": {"type": "integer"}}, ["id"]),
        record("counts", {"id": 1, "n": 2.0}),
        record("counts", {"id": 2, "n": 1e3}),
    ]
    run_in_process({"path": str(path)}, messages)
    assert query(path, "SELECT n FROM counts ORDER BY id") == [(2,), (1000,)]


def test_empty_property_name_becomes_underscore(tmp_path: Path) -> None:
    path = tmp_path / "types.duckdb"
    messages = [
        schema("odd", {"id": {"type": "integer"}, "": {"type": "string"}}, ["id"]),
        record("odd", {"id": 1, "": "no name"}),
    ]
    run_in_process({"path": str(path)}, messages)
    assert column_types(path, "main", "odd") == {"id": "BIGINT", "_": "VARCHAR"}
    assert query(path, 'SELECT "_" FROM odd') == [("no name",)]
