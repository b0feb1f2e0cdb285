"""How streams are loaded: merge, append, replace, settings, BATCH files and stream maps."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
import target_duckdb.loader as loader_module
from singer_sdk.singerlib.exceptions import InvalidInputLine

from tests.target.helpers import (
    activate_version,
    column_types,
    query,
    record,
    run_in_process,
    schema,
    state,
)

TASK = {"gid": {"type": "string"}, "name": {"type": ["null", "string"]}, "done": {"type": ["null", "boolean"]}}


def _path(tmp_path: Path) -> str:
    return str(tmp_path / "load.duckdb")


def test_merge_upserts_last_record_wins(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path), "batch_size_rows": 3}
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1", "name": "one", "done": False})])
    second = [schema("tasks", TASK, ["gid"])]
    second += [
        record("tasks", {"gid": "1", "name": "one v2", "done": False}),
        record("tasks", {"gid": "2", "name": "two", "done": False}),
        record("tasks", {"gid": "1", "name": "one v3", "done": True}),
        record("tasks", {"gid": "2", "name": "two v2", "done": True}),
        record("tasks", {"gid": "3", "name": "three", "done": None}),
    ]
    run_in_process(config, second)
    rows = query(config["path"], "SELECT gid, name, done FROM tasks ORDER BY gid")
    assert rows == [("1", "one v3", True), ("2", "two v2", True), ("3", "three", None)]


def test_merge_on_composite_key(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path)}
    properties = {"project": {"type": "string"}, "task": {"type": "integer"}, "rank": {"type": "integer"}}
    messages = [schema("links", properties, ["project", "task"])]
    messages += [
        record("links", {"project": "p", "task": 1, "rank": 1}),
        record("links", {"project": "p", "task": 2, "rank": 2}),
        record("links", {"project": "q", "task": 1, "rank": 3}),
        record("links", {"project": "p", "task": 1, "rank": 9}),
    ]
    run_in_process(config, messages)
    rows = query(config["path"], "SELECT project, task, rank FROM links ORDER BY 1, 2")
    assert rows == [("p", 1, 9), ("p", 2, 2), ("q", 1, 3)]


def test_stream_without_key_appends(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path)}
    messages = [schema("log", {"line": {"type": "string"}}), record("log", {"line": "a"}), record("log", {"line": "a"})]
    run_in_process(config, messages)
    run_in_process(config, messages)
    assert query(config["path"], "SELECT count(*) FROM log") == [(4,)]


def test_stream_settings_override_strategy_and_table(tmp_path: Path) -> None:
    config = {
        "path": _path(tmp_path),
        "stream_settings": {"tasks": {"table": "raw.asana_tasks", "strategy": "append"}},
    }
    messages = [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), record("tasks", {"gid": "1"})]
    run_in_process(config, messages)
    assert query(config["path"], "SELECT count(*) FROM raw.asana_tasks") == [(2,)]


def test_stream_settings_replace_without_activate_version(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path), "stream_settings": {"tasks": {"strategy": "replace"}}}
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), record("tasks", {"gid": "2"})])
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "3"})])
    assert query(config["path"], "SELECT gid FROM tasks") == [("3",)]


def test_late_activate_version_keeps_rows(tmp_path: Path) -> None:
    # ACTIVATE_VERSION after a committed batch must not delete the rows of that batch.
    config = {"path": _path(tmp_path), "batch_size_rows": 2}
    run_in_process(config, [schema("tags", TASK, ["gid"]), record("tags", {"gid": "old"})])
    messages = [schema("tags", TASK, ["gid"])]
    messages += [record("tags", {"gid": str(n)}) for n in range(3)]
    messages.append(activate_version("tags"))
    run_in_process(config, messages)
    assert query(config["path"], "SELECT gid FROM tags ORDER BY gid") == [("0",), ("1",), ("2",), ("old",)]


def test_replace_with_no_rows_empties_table(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path)}
    run_in_process(config, [schema("tags", TASK, ["gid"]), record("tags", {"gid": "1"})])
    run_in_process(config, [schema("tags", TASK, ["gid"]), activate_version("tags")])
    assert query(config["path"], "SELECT count(*) FROM tags") == [(0,)]


@pytest.mark.parametrize(
    ("load_method", "expected"),
    [("append-only", 3), ("upsert", 2), ("overwrite", 1)],
)
def test_load_method_keeps_sdk_meaning(tmp_path: Path, load_method: str, expected: int) -> None:
    config = {"path": _path(tmp_path), "load_method": load_method}
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), record("tasks", {"gid": "2"})])
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"})])
    assert query(config["path"], "SELECT count(*) FROM tasks") == [(expected,)]


def test_dotted_stream_lands_in_its_schema(tmp_path: Path) -> None:
    config = {"path": str(tmp_path / "nested" / "dir" / "load.duckdb"), "default_target_schema": "asana"}
    messages = [
        schema("public.tasks", TASK, ["gid"]),
        record("public.tasks", {"gid": "1"}),
        schema("users", TASK, ["gid"]),
        record("users", {"gid": "u"}),
    ]
    run_in_process(config, messages)
    assert query(config["path"], "SELECT gid FROM public.tasks") == [("1",)]
    assert query(config["path"], "SELECT gid FROM asana.users") == [("u",)]


def test_state_table_holds_latest_state(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path), "state_table": "_omniload.state", "state_key": "ws1/tasks"}
    messages = [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), state({"bookmarks": {"tasks": 1}})]
    emitted = run_in_process(config, messages)
    assert emitted == [{"bookmarks": {"tasks": 1}}]
    rows = query(config["path"], "SELECT key, value FROM _omniload.state")
    assert [(key, json.loads(value)) for key, value in rows] == [("ws1/tasks", {"bookmarks": {"tasks": 1}})]


def test_state_table_made_by_caller_updated(tmp_path: Path) -> None:
    import duckdb

    path = _path(tmp_path)
    with duckdb.connect(path) as connection:
        connection.execute("CREATE SCHEMA _omniload")
        connection.execute(
            "CREATE TABLE _omniload.state (key VARCHAR PRIMARY KEY, value JSON, updated_at TIMESTAMPTZ)"
        )
        connection.execute("INSERT INTO _omniload.state VALUES ('other', '{}', now()), ('mine', '{\"old\": 1}', now())")
    config = {"path": path, "state_table": "_omniload.state", "state_key": "mine"}
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), state({"new": 2})])
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "2"}), state({"new": 3})])
    rows = query(path, "SELECT key, value FROM _omniload.state ORDER BY key")
    assert [(key, json.loads(value)) for key, value in rows] == [("mine", {"new": 3}), ("other", {})]


def test_summary_file_has_table_figures(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    config = {"path": _path(tmp_path), "summary_path": str(summary_path)}
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), record("tasks", {"gid": "2"})])
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "2"}), record("tasks", {"gid": "3"})])
    figures = json.loads(summary_path.read_text())["tables"]["main.tasks"]
    assert figures["rows_inserted"] == 1
    assert figures["rows_updated"] == 1
    assert figures["rows_deleted"] == 0
    assert figures["seconds"] >= 0


@pytest.mark.parametrize("compressed", [True, False])
def test_batch_message_files_loaded(tmp_path: Path, compressed: bool) -> None:
    config = {"path": _path(tmp_path)}
    batch_file = tmp_path / ("part.jsonl.gz" if compressed else "part.jsonl")
    content = "".join(json.dumps({"gid": str(n), "name": f"n{n}", "done": n % 2 == 0}) + "\n" for n in range(5))
    if compressed:
        with gzip.open(batch_file, "wt", encoding="utf-8") as handle:
            handle.write(content)
    else:
        batch_file.write_text(content, encoding="utf-8")
    batch = {
        "type": "BATCH",
        "stream": "tasks",
        "encoding": {"format": "jsonl", "compression": "gzip" if compressed else "none"},
        "manifest": [batch_file.as_uri()],
    }
    messages = [schema("tasks", TASK, ["gid"]), batch, record("tasks", {"gid": "0", "name": "after", "done": None})]
    run_in_process(config, messages)
    rows = query(config["path"], "SELECT gid, name, done FROM tasks ORDER BY gid")
    assert len(rows) == 5
    assert rows[0] == ("0", "after", None)
    assert rows[4] == ("4", "n4", True)


def test_later_batch_file_wins_merge(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path)}
    manifest = []
    for part in range(3):
        batch_file = tmp_path / f"part-{part}.jsonl"
        rows = [{"gid": str(n), "name": f"part {part}", "done": None} for n in range(part, part + 3)]
        batch_file.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        manifest.append(batch_file.as_uri())
    messages = [schema("tasks", TASK, ["gid"])]
    for uri in manifest:
        messages.append({"type": "BATCH", "stream": "tasks", "encoding": {"format": "jsonl"}, "manifest": [uri]})
    run_in_process(config, messages)
    rows = query(config["path"], "SELECT gid, name FROM tasks ORDER BY gid")
    assert rows == [("0", "part 0"), ("1", "part 1"), ("2", "part 2"), ("3", "part 2"), ("4", "part 2")]


def test_bad_batch_file_line_named(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"gid": "1"}\n', encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"gid": "2"}\n{"gid": \n', encoding="utf-8")
    messages = [schema("tasks", TASK, ["gid"])]
    for path in (good, bad):
        messages.append({"type": "BATCH", "stream": "tasks", "encoding": {"format": "jsonl"}, "manifest": [path.as_uri()]})
    with pytest.raises(InvalidInputLine, match=r"Record 2 of batch file '.*bad.jsonl'"):
        run_in_process({"path": _path(tmp_path)}, messages)


def test_stream_maps_and_flattening_applied(tmp_path: Path) -> None:
    config = {
        "path": _path(tmp_path),
        "stream_maps": {"tasks": {"title": "name.upper()", "name": None}},
        "flattening_enabled": True,
        "flattening_max_depth": 1,
    }
    properties = {**TASK, "assignee": {"type": "object", "properties": {"gid": {"type": "string"}}}}
    messages = [schema("tasks", properties, ["gid"]), record("tasks", {"gid": "1", "name": "a", "assignee": {"gid": "u"}})]
    run_in_process(config, messages)
    types = column_types(config["path"], "main", "tasks")
    assert "name" not in types
    assert query(config["path"], 'SELECT title, "assignee__gid" FROM tasks') == [("A", "u")]


def test_hard_delete_removes_deleted_rows(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path), "hard_delete": True, "add_record_metadata": True}
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), record("tasks", {"gid": "2"})])
    deleted = record("tasks", {"gid": "1", "_sdc_deleted_at": "2024-01-01T00:00:00Z"})
    run_in_process(config, [schema("tasks", TASK, ["gid"]), deleted])
    assert query(config["path"], "SELECT gid FROM tasks") == [("2",)]


def test_record_metadata_columns_filled(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path), "add_record_metadata": True}
    message = record("tasks", {"gid": "1"}, time_extracted="2024-01-02T03:04:05Z", version=7)
    run_in_process(config, [schema("tasks", TASK, ["gid"]), message])
    rows = query(
        config["path"],
        "SELECT CAST(_sdc_extracted_at AS VARCHAR), _sdc_table_version, _sdc_received_at IS NOT NULL FROM tasks",
    )
    assert rows == [("2024-01-02 03:04:05+00", 7, True)]


def test_schema_named_like_database_file(tmp_path: Path) -> None:
    path = str(tmp_path / "asana.duckdb")
    config = {"path": path, "default_target_schema": "asana", "state_table": "asana.state", "state_key": "k"}
    messages = [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1"}), state({"done": 1})]
    run_in_process(config, messages)
    run_in_process(config, [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1", "name": "again"})])
    assert query(path, "SELECT gid, name FROM asana.asana.tasks") == [("1", "again")]
    assert query(path, "SELECT key FROM asana.asana.state") == [("k",)]


def _fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "through a TEMP table instead" in r.getMessage()]


def test_first_load_into_new_table_reads_files_directly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    summary_path = tmp_path / "summary.json"
    config = {"path": _path(tmp_path), "summary_path": str(summary_path)}
    messages = [schema("tasks", TASK, ["gid"])]
    messages += [record("tasks", {"gid": str(n), "name": f"n{n}", "done": n % 2 == 0}) for n in range(7)]

    run_in_process(config, messages)

    messages_logged = [r.getMessage() for r in caplog.records]
    assert "Reading stream 'tasks' straight into main.tasks" in messages_logged
    assert _fallbacks(caplog) == []
    assert query(config["path"], "SELECT count(*), count(DISTINCT gid) FROM tasks") == [(7, 7)]
    figures = json.loads(summary_path.read_text())["tables"]["main.tasks"]
    assert (figures["rows_inserted"], figures["rows_updated"]) == (7, 0)


def test_repeated_key_in_first_load_falls_back_to_staging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    summary_path = tmp_path / "summary.json"
    config = {"path": _path(tmp_path), "summary_path": str(summary_path)}
    messages = [schema("tasks", TASK, ["gid"])]
    messages += [
        record("tasks", {"gid": "1", "name": "first", "done": False}),
        record("tasks", {"gid": "2", "name": "two", "done": False}),
        record("tasks", {"gid": "1", "name": "last", "done": True}),
    ]

    run_in_process(config, messages)

    assert len(_fallbacks(caplog)) == 1
    rows = query(config["path"], "SELECT gid, name, done FROM tasks ORDER BY gid")
    assert rows == [("1", "last", True), ("2", "two", False)]
    figures = json.loads(summary_path.read_text())["tables"]["main.tasks"]
    assert figures["rows_inserted"] == 2


def test_first_load_into_empty_table_keeps_its_types(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path)}
    with duckdb.connect(config["path"]) as connection:
        connection.execute("CREATE TABLE tasks (gid VARCHAR, name VARCHAR, done VARCHAR, extra INTEGER)")
    messages = [schema("tasks", TASK, ["gid"]), record("tasks", {"gid": "1", "name": "one", "done": True})]

    run_in_process(config, messages)

    assert query(config["path"], "SELECT gid, name, done, extra FROM tasks") == [("1", "one", "true", None)]
    assert column_types(config["path"], "main", "tasks")["done"] == "VARCHAR"


def test_bad_value_in_first_load_leaves_no_rows(tmp_path: Path) -> None:
    config = {"path": _path(tmp_path)}
    properties = {"gid": {"type": "string"}, "count": {"type": "integer"}}
    run_in_process(config, [schema("counts", properties, ["gid"])])
    messages = [schema("counts", properties, ["gid"])]
    messages += [record("counts", {"gid": str(n), "count": n}) for n in range(5)]
    messages.append(record("counts", {"gid": "5", "count": "five"}))

    with pytest.raises(Exception, match=r"Line 7: invalid value 'five' for property 'count'"):
        run_in_process(config, messages)

    assert query(config["path"], "SELECT count(*) FROM counts") == [(0,)]


@pytest.mark.parametrize("update_limit", [0, 50_000], ids=["delete-and-insert", "merge-into"])
def test_both_merge_paths_give_the_same_table_and_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update_limit: int
) -> None:
    monkeypatch.setattr(loader_module, "MERGE_UPDATE_LIMIT", update_limit)
    summary_path = tmp_path / "summary.json"
    config = {"path": _path(tmp_path), "hard_delete": True, "add_record_metadata": True}
    first = [schema("tasks", TASK, ["gid"])]
    first += [record("tasks", {"gid": str(n), "name": f"n{n}", "done": False}) for n in range(4)]
    run_in_process(config, first)
    second = [
        schema("tasks", TASK, ["gid"]),
        record("tasks", {"gid": "0", "name": "changed", "done": True}),
        record("tasks", {"gid": "1", "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
        record("tasks", {"gid": "4", "name": "new", "done": None}),
        record("tasks", {"gid": "0", "name": "changed twice", "done": True}),
        record("tasks", {"gid": "9", "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
    ]

    run_in_process({**config, "summary_path": str(summary_path)}, second)

    rows = query(config["path"], "SELECT gid, name, done FROM tasks ORDER BY gid")
    assert rows == [("0", "changed twice", True), ("2", "n2", False), ("3", "n3", False), ("4", "new", None)]
    figures = json.loads(summary_path.read_text())["tables"]["main.tasks"]
    assert (figures["rows_inserted"], figures["rows_updated"], figures["rows_deleted"]) == (1, 1, 1)


def _loaded_counts(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [
        int(r.getMessage().split()[1]) for r in caplog.records if r.getMessage().startswith("Loaded ")
    ]


def test_first_load_takes_larger_batches(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    config = {"path": _path(tmp_path), "batch_size_bytes": 2_000}
    messages = [schema("tasks", TASK, ["gid"])]
    messages += [record("tasks", {"gid": str(n), "name": "x" * 40, "done": False}) for n in range(300)]

    run_in_process(config, messages)
    first_run = _loaded_counts(caplog)
    caplog.clear()
    run_in_process(config, messages)
    second_run = _loaded_counts(caplog)

    # The table was new in the first run, so its first batch held four times the bytes.
    assert sum(first_run) == sum(second_run) == 300
    assert first_run[0] >= 3 * second_run[0]
    assert first_run[1] <= second_run[0] + 1
    assert query(config["path"], "SELECT count(*), count(DISTINCT gid) FROM tasks") == [(300, 300)]
