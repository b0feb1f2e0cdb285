"""activate_version_completes_stream: replace a table only after its closing ACTIVATE_VERSION."""

from __future__ import annotations

from pathlib import Path

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

USER = {"gid": {"type": "string"}, "name": {"type": "string"}}
TAG = {"gid": {"type": "string"}}
UNFINISHED_ERROR = (
    "target-duckdb: error: Input ended before the closing ACTIVATE_VERSION of stream 'users'; "
    "the tap probably failed, so its table was kept as it was and no STATE was emitted."
)


def config(tmp_path: Path, **settings: object) -> dict:
    return {
        "path": str(tmp_path / "out.duckdb"),
        "activate_version_completes_stream": True,
        **settings,
    }


def first_load(tmp_path: Path, settings: dict) -> None:
    """Load users a and b with a complete, closed stream, then STATE run 1."""
    result = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 1),
            record("users", {"gid": "a", "name": "Ann"}),
            record("users", {"gid": "b", "name": "Bob"}),
            activate_version("users", 1),
            state({"bookmarks": {"users": {"run": 1}}}),
        ],
    )
    assert result.returncode == 0, result.stderr


def users(tmp_path: Path) -> list[tuple]:
    return query(tmp_path / "out.duckdb", "SELECT gid, name FROM main.users ORDER BY gid")


def test_truncated_stream_keeps_old_table(tmp_path: Path) -> None:
    settings = config(tmp_path)
    first_load(tmp_path, settings)

    result = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            record("users", {"gid": "c", "name": "Cat"}),
            state({"bookmarks": {"users": {}}}),
        ],
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(UNFINISHED_ERROR)
    assert "Traceback" not in result.stderr
    assert users(tmp_path) == [("a", "Ann"), ("b", "Bob")]
    assert states_of(result) == []


def test_stream_without_records_needs_closing_message(tmp_path: Path) -> None:
    settings = config(tmp_path)
    first_load(tmp_path, settings)

    opened = run_cli(
        tmp_path, settings, [schema("users", USER, ["gid"]), activate_version("users", 2)]
    )
    assert opened.returncode == 1
    assert UNFINISHED_ERROR in opened.stderr
    assert users(tmp_path) == [("a", "Ann"), ("b", "Bob")]

    closed = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            activate_version("users", 2),
        ],
    )
    assert closed.returncode == 0, closed.stderr
    assert users(tmp_path) == []


def test_closing_message_replaces_table(tmp_path: Path) -> None:
    settings = config(tmp_path)
    first_load(tmp_path, settings)

    result = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            record("users", {"gid": "c", "name": "Cat"}),
            state({"bookmarks": {"users": {"done": True}}}),
            activate_version("users", 2),
        ],
    )

    assert result.returncode == 0, result.stderr
    assert users(tmp_path) == [("c", "Cat")]
    assert states_of(result) == [{"bookmarks": {"users": {"done": True}}}]


def test_record_after_closing_message_reopens(tmp_path: Path) -> None:
    settings = config(tmp_path)
    first_load(tmp_path, settings)

    result = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            record("users", {"gid": "c", "name": "Cat"}),
            activate_version("users", 2),
            record("users", {"gid": "d", "name": "Dan"}),
        ],
    )

    assert result.returncode == 1
    assert UNFINISHED_ERROR in result.stderr
    assert users(tmp_path) == [("a", "Ann"), ("b", "Bob")]


def test_other_streams_load_without_state(tmp_path: Path) -> None:
    settings = config(
        tmp_path, state_table="meta.singer_state", state_key="run", batch_size_rows=1
    )
    first_load(tmp_path, settings)
    stored_before = query(tmp_path / "out.duckdb", "SELECT value FROM meta.singer_state")

    result = run_cli(
        tmp_path,
        settings,
        [
            schema("tags", TAG, ["gid"]),
            record("tags", {"gid": "t1"}),
            state({"bookmarks": {"tags": {"n": 1}}}),
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            record("users", {"gid": "c", "name": "Cat"}),
            state({"bookmarks": {"users": {"n": 2}}}),
            record("users", {"gid": "d", "name": "Dan"}),
            state({"bookmarks": {"users": {"n": 3}}}),
        ],
    )

    assert result.returncode == 1
    assert UNFINISHED_ERROR in result.stderr
    assert users(tmp_path) == [("a", "Ann"), ("b", "Bob")]
    assert query(tmp_path / "out.duckdb", "SELECT gid FROM main.tags") == [("t1",)]
    # Every STATE after the users rows may cover them, so none is emitted or stored.
    for emitted in states_of(result):
        assert "users" not in emitted["bookmarks"]
    assert query(tmp_path / "out.duckdb", "SELECT value FROM meta.singer_state") == stored_before


def test_first_run_truncated_creates_no_table(tmp_path: Path) -> None:
    # One row per batch, so the row is staged and the file exists at the end.
    result = run_cli(
        tmp_path,
        config(tmp_path, batch_size_rows=1),
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 1),
            record("users", {"gid": "a", "name": "Ann"}),
            record("users", {"gid": "b", "name": "Bob"}),
        ],
    )

    assert result.returncode == 1
    assert UNFINISHED_ERROR in result.stderr
    assert "main.users" not in table_names(tmp_path / "out.duckdb")


def test_two_unfinished_streams_named_in_one_line(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path,
        config(tmp_path),
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 1),
            schema("tags", TAG, ["gid"]),
            activate_version("tags", 1),
            record("tags", {"gid": "t1"}),
        ],
    )

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert "closing ACTIVATE_VERSION of streams 'tags', 'users';" in errors[0]


def test_explicit_replace_strategy_is_checked(tmp_path: Path) -> None:
    settings = config(tmp_path, stream_settings={"users": {"strategy": "replace"}})
    first_load(tmp_path, settings)

    result = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            record("users", {"gid": "c", "name": "Cat"}),
        ],
    )

    assert result.returncode == 1
    assert UNFINISHED_ERROR in result.stderr
    assert users(tmp_path) == [("a", "Ann"), ("b", "Bob")]


def test_explicit_merge_strategy_is_not_checked(tmp_path: Path) -> None:
    settings = config(tmp_path, stream_settings={"users": {"strategy": "merge"}})
    first_load(tmp_path, settings)

    result = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            record("users", {"gid": "c", "name": "Cat"}),
        ],
    )

    assert result.returncode == 0, result.stderr
    assert users(tmp_path) == [("a", "Ann"), ("b", "Bob"), ("c", "Cat")]


def test_setting_off_replaces_truncated_stream(tmp_path: Path) -> None:
    settings = config(tmp_path, activate_version_completes_stream=False)
    first_load(tmp_path, settings)

    result = run_cli(
        tmp_path,
        settings,
        [
            schema("users", USER, ["gid"]),
            activate_version("users", 2),
            record("users", {"gid": "c", "name": "Cat"}),
            state({"bookmarks": {"users": {}}}),
        ],
    )

    assert result.returncode == 0, result.stderr
    assert users(tmp_path) == [("c", "Cat")]
    assert states_of(result) == [{"bookmarks": {"users": {}}}]
