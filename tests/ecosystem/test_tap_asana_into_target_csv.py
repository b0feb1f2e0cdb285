"""tap-asana piped into meltanolabs-target-csv, which appends every record it receives."""

from __future__ import annotations

import ast
import csv
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.asana_server import AsanaServer
from tests.ecosystem.ground_truth import STREAMS, extracted_records, sample
from tests.ecosystem.plugin_venvs import PluginVenv
from tests.ecosystem.singer_pipe import OWN_BIN_DIR, run_tap_into_target, write_config

pytestmark = pytest.mark.ecosystem

# Task notes can be longer than the csv module's default field limit of 128 KiB.
csv.field_size_limit(sys.maxsize)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def asana_server(module_asana_server: AsanaServer) -> AsanaServer:
    """Share one server across this module: its tests only read what one run wrote."""
    return module_asana_server


@pytest.fixture(scope="module")
def csv_output(
    tmp_path_factory: pytest.TempPathFactory,
    asana_server: AsanaServer,
    plugin_venv: Callable[[str], PluginVenv],
) -> Path:
    tmp_path = tmp_path_factory.mktemp("tap-asana-into-target-csv")
    output_dir = tmp_path / "csv"
    output_dir.mkdir()
    tap_config = write_config(
        tmp_path,
        "tap-asana",
        {"access_token": asana_server.token, "api_url": asana_server.base_url},
    )
    target_config = write_config(tmp_path, "target-csv", {"output_path": str(output_dir)})
    target = plugin_venv("target-csv")
    run_tap_into_target(
        [str(OWN_BIN_DIR / "tap-asana"), "--config", str(tap_config)],
        [str(target.executable("target-csv")), "--config", str(target_config)],
        tmp_path,
    )
    return output_dir


def test_one_csv_file_per_stream(csv_output: Path) -> None:
    names = sorted(path.name for path in csv_output.iterdir())

    assert names == sorted(f"{stream}.csv" for stream in STREAMS)


def test_csv_rows_match_server(csv_output: Path, asana_server: Any) -> None:
    truth = extracted_records(asana_server)

    for stream in STREAMS:
        rows = read_csv(csv_output / f"{stream}.csv")
        gids = [row["gid"] for row in rows]
        # target-csv appends, so a record the tap sent twice would show up as two rows.
        assert len(gids) == len(set(gids)), f"{stream}: the tap sent a record twice"
        assert sorted(gids) == sorted(record["gid"] for record in truth[stream]), stream


def csv_text(value: Any) -> str:
    """Return ``value`` as target-csv writes a scalar: None empty, booleans as True/False."""
    if value is None:
        return ""
    return str(value)


def same_csv_value(written: str, value: Any) -> bool:
    """Compare a CSV cell with the server's value; date-times compare as instants.

    target-csv parses date-time strings and writes them back with str(), so
    `2024-05-24T19:50:18.053Z` comes out as `2024-05-24 19:50:18.053000+00:00`.
    """
    if written == csv_text(value):
        return True
    if isinstance(value, str) and "T" in value:
        try:
            return dt.datetime.fromisoformat(written) == dt.datetime.fromisoformat(value)
        except ValueError:
            return False
    return False


def test_csv_values_match_server(csv_output: Path, asana_server: Any) -> None:
    expected = extracted_records(asana_server)

    for stream in STREAMS:
        by_gid = {row["gid"]: row for row in read_csv(csv_output / f"{stream}.csv")}
        for record in sample(expected[stream]):
            row = by_gid[record["gid"]]
            for column, value in record.items():
                if column not in row:
                    continue
                if isinstance(value, dict | list):
                    continue
                assert same_csv_value(row[column], value), (stream, record["gid"], column)


def test_csv_nested_fields_are_python_literals(csv_output: Path, asana_server: Any) -> None:
    expected = {task["gid"]: task for task in extracted_records(asana_server)["tasks"]}

    for row in read_csv(csv_output / "tasks.csv"):
        # target-csv 0.5.0 writes nested values with str(), as Python literals rather than JSON.
        memberships = ast.literal_eval(row["memberships"])
        project_gids = sorted(m["project"]["gid"] for m in memberships)
        expected_gids = sorted(m["project"]["gid"] for m in expected[row["gid"]]["memberships"])
        assert project_gids == expected_gids, row["gid"]
