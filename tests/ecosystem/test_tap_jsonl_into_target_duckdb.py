"""target-duckdb fed by tap-jsonl, a singer-sdk tap from PyPI, over JSONL files the test writes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.ecosystem.plugin_venvs import PluginVenv
from tests.ecosystem.singer_pipe import OWN_BIN_DIR, run_tap_into_target, write_config

pytestmark = pytest.mark.ecosystem

SCHEMA = "landing"

ORDERS = [
    {
        "id": 1,
        "name": 'Grüße, "quoted" and a comma',
        "price": 9.5,
        "active": True,
        "tags": ["a", "b"],
        "meta": {"k": 1, "nested": {"deep": [1, 2]}},
        "created_at": "2024-01-02T03:04:05Z",
        "note": None,
    },
    {
        "id": 2,
        "name": "beta",
        "price": 10,
        "active": False,
        "tags": [],
        "meta": {},
        "created_at": "2024-02-03T00:00:00+02:00",
        "note": "second",
    },
    {
        "id": 9007199254740993,
        "name": "",
        "price": 0.1,
        "active": True,
        "tags": ["z"],
        "meta": {"k": None},
        "created_at": "1999-12-31T23:59:59.123456Z",
        "note": "x" * 5000,
    },
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def load(
    tmp_path: Path,
    tap_jsonl: PluginVenv,
    data_glob: str,
    stream_name: str,
    primary_keys: list[str],
    db_name: str = "jsonl.duckdb",
) -> Path:
    db_path = tmp_path / "out" / db_name
    tap_config = write_config(
        tmp_path,
        f"tap-jsonl-{stream_name}",
        {"path": data_glob, "stream_name": stream_name, "primary_keys": primary_keys},
    )
    target_config = write_config(
        tmp_path, "target-duckdb", {"path": str(db_path), "default_target_schema": SCHEMA}
    )
    run_tap_into_target(
        [str(tap_jsonl.executable("tap-jsonl")), "--config", str(tap_config)],
        [str(OWN_BIN_DIR / "target-duckdb"), "--config", str(target_config)],
        tmp_path,
    )
    return db_path


def column_types(db_path: Path, table: str) -> dict[str, str]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [SCHEMA, table],
        ).fetchall()
    return dict(rows)


@pytest.fixture
def tap_jsonl(plugin_venv: Callable[[str], PluginVenv]) -> PluginVenv:
    return plugin_venv("tap-jsonl")


def test_jsonl_rows_land_with_their_values(tmp_path: Path, tap_jsonl: PluginVenv) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_jsonl(data_dir / "orders-1.jsonl", ORDERS[:2])
    write_jsonl(data_dir / "orders-2.jsonl", ORDERS[2:])

    db_path = load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "orders", ["id"])

    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            f"SELECT id, name, price, active, note, created_at FROM {SCHEMA}.orders ORDER BY id"  # noqa: S608
        ).fetchall()
        meta = connection.execute(
            f"SELECT CAST(meta AS VARCHAR), CAST(tags AS VARCHAR) FROM {SCHEMA}.orders ORDER BY id"  # noqa: S608
        ).fetchall()

    assert len(rows) == 3
    assert [row[0] for row in rows] == [1, 2, 9007199254740993]
    assert rows[0][1] == 'Grüße, "quoted" and a comma'
    assert rows[2][1] == ""
    assert rows[0][2] == pytest.approx(9.5)
    assert rows[1][2] == pytest.approx(10)
    assert rows[2][2] == pytest.approx(0.1)
    assert [row[3] for row in rows] == [True, False, True]
    assert rows[0][4] is None
    assert rows[2][4] == "x" * 5000
    utc = dt.UTC
    assert rows[0][5].astimezone(utc) == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc)
    assert rows[1][5].astimezone(utc) == dt.datetime(2024, 2, 2, 22, 0, 0, tzinfo=utc)
    assert rows[2][5].astimezone(utc) == dt.datetime(1999, 12, 31, 23, 59, 59, 123456, tzinfo=utc)
    assert json.loads(meta[0][0]) == {"k": 1, "nested": {"deep": [1, 2]}}
    assert json.loads(meta[1][0]) == {}
    assert json.loads(meta[2][0]) == {"k": None}
    assert json.loads(meta[0][1]) == ["a", "b"]
    assert json.loads(meta[1][1]) == []


def test_jsonl_column_types_follow_the_schema(tmp_path: Path, tap_jsonl: PluginVenv) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_jsonl(data_dir / "orders.jsonl", ORDERS)

    db_path = load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "orders", ["id"])
    types = column_types(db_path, "orders")

    assert types["id"] == "BIGINT"
    assert types["name"] == "VARCHAR"
    # tap-jsonl types a column holding 9.5 and 10 as ["integer", "null", "number"].
    assert types["price"] in {"DOUBLE", "DECIMAL"} or types["price"].startswith("DECIMAL(")
    assert types["active"] == "BOOLEAN"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["meta"] == "JSON"
    assert types["_sdc_filename"] == "VARCHAR"


def test_jsonl_rerun_with_keys_updates_rows(tmp_path: Path, tap_jsonl: PluginVenv) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_jsonl(data_dir / "orders.jsonl", ORDERS[:2])
    load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "orders", ["id"])

    changed = [{**ORDERS[1], "name": "beta renamed"}, ORDERS[2]]
    write_jsonl(data_dir / "orders.jsonl", changed)
    db_path = load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "orders", ["id"])

    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(f"SELECT id, name FROM {SCHEMA}.orders ORDER BY id").fetchall()  # noqa: S608

    assert [row[0] for row in rows] == [1, 2, 9007199254740993]
    assert rows[1][1] == "beta renamed"


def test_jsonl_rerun_without_keys_appends(tmp_path: Path, tap_jsonl: PluginVenv) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_jsonl(data_dir / "events.jsonl", ORDERS[:2])

    load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "events", [])
    db_path = load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "events", [])

    with duckdb.connect(str(db_path), read_only=True) as connection:
        ids = connection.execute(f"SELECT id FROM {SCHEMA}.events ORDER BY id").fetchall()  # noqa: S608

    assert [row[0] for row in ids] == [1, 1, 2, 2]


def test_schema_named_like_file_loads(tmp_path: Path, tap_jsonl: PluginVenv) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_jsonl(data_dir / "orders.jsonl", ORDERS)

    db_path = load(
        tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "orders", ["id"], f"{SCHEMA}.duckdb"
    )

    with duckdb.connect(str(db_path), read_only=True) as connection:
        count = connection.execute(f"SELECT count(*) FROM {SCHEMA}.{SCHEMA}.orders").fetchone()  # noqa: S608
    assert count == (len(ORDERS),)


def test_jsonl_new_field_adds_column(tmp_path: Path, tap_jsonl: PluginVenv) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_jsonl(data_dir / "items.jsonl", [{"id": 1, "qty": 10}, {"id": 2, "qty": 11}])
    load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "items", ["id"])

    # tap-jsonl infers the schema from the data, so this run widens qty to a number.
    write_jsonl(data_dir / "items.jsonl", [{"id": 2, "qty": 11.5, "color": "red"}])
    db_path = load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "items", ["id"])
    types = column_types(db_path, "items")

    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            f"SELECT id, qty, color FROM {SCHEMA}.items ORDER BY id"  # noqa: S608
        ).fetchall()
    assert types["qty"] == "DOUBLE"
    assert types["color"] == "VARCHAR"
    assert rows == [(1, 10.0, None), (2, 11.5, "red")]


def test_jsonl_mixed_types_keep_values(tmp_path: Path, tap_jsonl: PluginVenv) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_jsonl(data_dir / "items.jsonl", [{"id": 1, "qty": 10}])
    load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "items", ["id"])

    write_jsonl(data_dir / "items.jsonl", [{"id": 2, "qty": 11.5}, {"id": 3, "qty": "many"}])
    db_path = load(tmp_path, tap_jsonl, str(data_dir / "*.jsonl"), "items", ["id"])

    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            f"SELECT id, CAST(qty AS VARCHAR) FROM {SCHEMA}.items ORDER BY id"  # noqa: S608
        ).fetchall()
    # No single SQL type fits 10, 11.5 and "many", so the column must keep each as JSON.
    assert column_types(db_path, "items")["qty"] == "JSON"
    decoded = [(item_id, json.loads(text)) for item_id, text in rows]
    assert decoded == [(1, 10), (2, 11.5), (3, "many")]
