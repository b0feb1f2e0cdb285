"""The stream schemas and opt_fields, generated from Asana's OpenAPI spec."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from tap_asana import schemas
from tap_asana.schema_generator import (
    STREAM_SPECS,
    SchemaResolver,
    derive_all,
    is_reasonable_path,
    load_spec,
    main,
)

from tests.asana_spec import spec_path

SPEC = spec_path()
STREAMS = sorted(STREAM_SPECS)


def committed(name: str) -> Any:
    return json.loads(resources.files(schemas).joinpath(name).read_text("utf-8"))


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Return every dotted property path of a schema, leaving out gid and nested resource_type.

    A record's own `resource_type` is requested; a nested object's comes with its sub-fields.
    """
    paths: set[str] = set()
    for name, prop in schema.get("properties", {}).items():
        if name == "gid" or (prefix and name == "resource_type"):
            continue
        paths.add(prefix + name)
        nested = prop if "properties" in prop else prop.get("items", {})
        if "properties" in nested:
            paths |= schema_paths(nested, f"{prefix}{name}.")
    return paths


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.fail(f"Asana's OpenAPI spec not found at {SPEC}; unset ASANA_OAS_PATH or fix it")
    return load_spec(SPEC)


def test_committed_files_match_the_spec(spec: dict[str, Any]) -> None:
    for name, text in derive_all(spec).items():
        current = resources.files(schemas).joinpath(name).read_text("utf-8")
        assert current == text, f"{name} is out of date: run python -m tap_asana.schema_generator"


def test_check_mode_reports_stale_files(spec: dict[str, Any], tmp_path: Path) -> None:
    assert main([str(SPEC), "--out", str(tmp_path)]) == 0
    assert main([str(SPEC), "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "tasks.json").write_text("{}")
    assert main([str(SPEC), "--out", str(tmp_path), "--check"]) == 1


@pytest.mark.parametrize("stream", STREAMS)
def test_schema_declares_exactly_the_requested_fields(stream: str) -> None:
    schema = committed(f"{stream}.json")
    requested = set(committed("opt_fields.json")[stream])
    parent_columns = set(STREAM_SPECS[stream].parent_columns)
    assert schema_paths(schema) - parent_columns == requested


@pytest.mark.parametrize("stream", STREAMS)
def test_gid_and_parent_columns_are_non_null_strings(stream: str) -> None:
    properties = committed(f"{stream}.json")["properties"]
    for column in ("gid", *STREAM_SPECS[stream].parent_columns):
        assert properties[column]["type"] == ["string"], column


def test_parent_columns_are_declared() -> None:
    assert "project_gid" in committed("sections.json")["properties"]
    assert "task_gid" in committed("stories.json")["properties"]
    for stream in ("teams", "projects", "tags", "tasks", "sections", "stories"):
        assert "workspace_gid" in committed(f"{stream}.json")["properties"], stream


def test_dates_and_timestamps_keep_their_formats() -> None:
    tasks = committed("tasks.json")["properties"]
    for field in ("due_on", "start_on"):
        assert tasks[field]["format"] == "date"
        assert tasks[field]["type"] == ["string", "null"]
    for field in ("created_at", "modified_at", "completed_at", "due_at"):
        assert tasks[field]["format"] == "date-time"
    projects = committed("projects.json")["properties"]
    assert projects["due_on"]["format"] == "date"
    assert projects["modified_at"]["format"] == "date-time"


def test_nested_objects_and_arrays_keep_their_structure() -> None:
    tasks = committed("tasks.json")["properties"]
    assert "object" in tasks["assignee"]["type"]
    assert set(tasks["assignee"]["properties"]) == {"gid", "resource_type", "name"}
    membership = tasks["memberships"]["items"]["properties"]
    assert membership["section"]["properties"]["name"]["type"] == ["string", "null"]
    # Whatever Asana adds to a nested object reaches the target.
    assert tasks["assignee"]["additionalProperties"] is True
    assert tasks["custom_fields"]["items"]["additionalProperties"] is True


def test_opt_in_fields_are_requested() -> None:
    opt_fields = committed("opt_fields.json")
    assert {"html_notes", "created_by", "num_subtasks", "dependencies"} <= set(opt_fields["tasks"])
    assert "html_text" in opt_fields["stories"]
    assert {"description", "html_description"} <= set(opt_fields["teams"])


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("assignee.name", True),
        ("custom_fields.enum_value.name", True),
        ("custom_fields.enum_options.name", False),
        ("custom_fields.created_by.name", False),
        ("created_by", True),
        ("custom_field_settings.custom_field.date_value.date", False),
    ],
)
def test_costly_paths_are_not_requested(path: str, kept: bool) -> None:
    assert is_reasonable_path(path) is kept


def test_resolver_merges_refs_allof_and_nullable() -> None:
    spec = {
        "components": {
            "schemas": {
                "UserCompact": {
                    "type": "object",
                    "properties": {"gid": {"type": "string"}, "name": {"type": "string"}},
                },
                "Thing": {
                    "allOf": [
                        {"type": "object", "properties": {"due_on": {
                            "type": "string", "format": "date", "nullable": True,
                            "description": "dropped", "example": "2024-01-01"}}},
                        {"type": "object", "properties": {
                            "owner": {"allOf": [{"$ref": "#/components/schemas/UserCompact"},
                                                {"nullable": True}]},
                            "color": {"type": "string", "enum": ["red"], "format": "uri"},
                        }},
                    ]
                },
            }
        }
    }
    resolved = SchemaResolver(spec).resolve({"$ref": "#/components/schemas/Thing"})
    properties = resolved["properties"]
    assert properties["due_on"] == {"type": ["string", "null"], "format": "date"}
    assert properties["owner"]["type"] == ["object", "null"]
    assert set(properties["owner"]["properties"]) == {"gid", "name"}
    # enum and formats other than date and date-time are dropped on purpose.
    assert properties["color"] == {"type": ["string"]}
