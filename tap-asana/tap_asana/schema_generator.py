"""Derive the stream schemas and their opt_fields from Asana's OpenAPI spec.

Run from the repository root after the spec changes, then commit the output::

    python -m tap_asana.schema_generator tests/asana_spec/asana_oas.yaml

For each stream the generator resolves the spec's full response schema (``TaskResponse``
and so on) and keeps the fields that the list endpoint documents in its ``opt_fields``
enum. It writes two files derived from that one field list, so they cannot drift:
``schemas/<stream>.json`` (the stream's JSON Schema) and ``schemas/opt_fields.json``
(the value the tap sends as ``opt_fields``). PyYAML is needed only here, not at run time.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

SCHEMAS_DIR = Path(__file__).parent / "schemas"
OPT_FIELDS_FILE = "opt_fields.json"

# Asana returns `gid` on every object, so it is declared but never requested. A record's
# own `resource_type` comes only when `opt_fields` names it (a list with opt_fields returns
# gid plus the named fields), so the generator requests it at the top level. Nested objects
# come with their `resource_type` whenever one of their sub-fields is named.
ALWAYS_RETURNED = ("gid",)
TOP_LEVEL_REQUESTED = ("resource_type",)

# A requested path has at most this many dotted segments (for example
# `custom_fields.enum_value.name`). Deeper paths only repeat definitions of nested objects.
MAX_PATH_DEPTH = 3

# Segments that make a path too costly for what it adds. `enum_options` copies a custom
# field's whole option list into every task. A nested `created_by` names who created the
# nested object (a custom field, a parent task), which no join needs.
SKIPPED_SEGMENTS = frozenset({"enum_options"})
SKIPPED_NESTED_SEGMENTS = frozenset({"created_by"})

# Formats kept from the spec. Others (`uri`, `email`) are dropped because Asana's own
# examples do not always satisfy them (`email_domains` contains bare domains marked `uri`).
KEPT_FORMATS = frozenset({"date", "date-time"})


@dataclass(frozen=True)
class StreamSpec:
    """The spec's response schema and list endpoint behind one stream."""

    response_schema: str
    list_path: str
    # Columns the tap adds from the record's parents, always non-null strings.
    parent_columns: tuple[str, ...] = field(default=())


STREAM_SPECS: dict[str, StreamSpec] = {
    "workspaces": StreamSpec("WorkspaceResponse", "/workspaces"),
    "users": StreamSpec("UserResponse", "/users"),
    "teams": StreamSpec(
        "TeamResponse", "/workspaces/{workspace_gid}/teams", ("workspace_gid",)
    ),
    "projects": StreamSpec("ProjectResponse", "/projects", ("workspace_gid",)),
    "sections": StreamSpec(
        "SectionResponse",
        "/projects/{project_gid}/sections",
        ("project_gid", "workspace_gid"),
    ),
    "tags": StreamSpec("TagResponse", "/tags", ("workspace_gid",)),
    "tasks": StreamSpec("TaskResponse", "/tasks", ("workspace_gid",)),
    "stories": StreamSpec(
        "StoryResponse", "/tasks/{task_gid}/stories", ("task_gid", "workspace_gid")
    ),
}


class SpecError(ValueError):
    """The spec lacks a schema or endpoint that a stream needs."""


class SchemaResolver:
    """Turn OpenAPI 3.0 schemas into plain JSON Schema.

    `$ref`s are inlined, `allOf` parts are merged, `nullable: true` becomes a `"null"`
    member of `type`, and documentation-only keywords (`description`, `example`,
    `readOnly`, `enum`, ...) are dropped. `enum` is dropped on purpose: Asana adds enum
    values over time, and a new value must not make a record invalid.
    """

    def __init__(self, spec: dict[str, t.Any]) -> None:
        self.components = spec.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, t.Any], refs: tuple[str, ...] = ()) -> dict:
        """Return the JSON Schema equivalent of one OpenAPI schema object."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name in refs:
                # A self-referencing schema: stop here with an open object.
                return {"type": ["object", "null"]}
            if name not in self.components:
                raise SpecError(f"the spec has no schema named {name!r}")
            return self.resolve(self.components[name], (*refs, name))

        merged: dict[str, t.Any] = {}
        nullable = bool(schema.get("nullable"))
        for part in schema.get("allOf", []):
            resolved = self.resolve(part, refs)
            nullable = nullable or "null" in _types(resolved)
            _merge(merged, resolved)

        own = {key: value for key, value in schema.items() if key != "allOf"}
        if "properties" in own or "type" in own or "items" in own or "format" in own:
            _merge(merged, self._resolve_own(own, refs))

        if nullable:
            # A part that is only `{nullable: true}` has no type of its own: it
            # contributes "null" to the types of the parts it is merged with.
            types = [x for x in _types(merged) if x != "null"]
            merged["type"] = [*types, "null"]
        return merged

    def _resolve_own(self, schema: dict[str, t.Any], refs: tuple[str, ...]) -> dict:
        result: dict[str, t.Any] = {}
        if "type" in schema:
            result["type"] = [schema["type"]]
        if "format" in schema and schema["format"] in KEPT_FORMATS:
            result["format"] = schema["format"]
        if "properties" in schema:
            result.setdefault("type", ["object"])
            result["properties"] = {
                name: self.resolve(prop, refs) for name, prop in schema["properties"].items()
            }
        if "items" in schema:
            result["items"] = self.resolve(schema["items"], refs)
        if schema.get("additionalProperties") is True:
            result["additionalProperties"] = True
        return result


def _types(schema: dict[str, t.Any]) -> list[str]:
    value = schema.get("type", [])
    return [value] if isinstance(value, str) else list(value)


def _merge(target: dict[str, t.Any], source: dict[str, t.Any]) -> None:
    """Merge one resolved `allOf` part into another; later parts win per property."""
    for key, value in source.items():
        if key == "properties":
            target.setdefault("properties", {}).update(copy.deepcopy(value))
        elif key == "type":
            target["type"] = list(dict.fromkeys([*_types(target), *_types(source)]))
        else:
            target[key] = copy.deepcopy(value)


def documented_opt_fields(spec: dict[str, t.Any], list_path: str) -> set[str]:
    """Return the `opt_fields` enum that the spec documents for `GET list_path`."""
    try:
        operation = spec["paths"][list_path]["get"]
    except KeyError as exc:
        raise SpecError(f"the spec has no GET {list_path}") from exc
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "opt_fields":
            return set(parameter["schema"]["items"]["enum"])
    raise SpecError(f"GET {list_path} documents no opt_fields parameter")


def is_reasonable_path(path: str) -> bool:
    """Return whether an `opt_fields` path is worth requesting (see the constants above)."""
    segments = path.split(".")
    if len(segments) > MAX_PATH_DEPTH:
        return False
    if SKIPPED_SEGMENTS.intersection(segments):
        return False
    return not SKIPPED_NESTED_SEGMENTS.intersection(segments[1:])


def _object_schema(schema: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """Return the object schema behind a property: itself, or its array items."""
    if "properties" in schema:
        return schema
    items = schema.get("items")
    if isinstance(items, dict) and "properties" in items:
        return items
    return None


def prune(schema: dict[str, t.Any], paths: set[str], prefix: str = "") -> list[str]:
    """Keep only requested properties in `schema`, in place; return the kept paths.

    A nested object keeps `gid` and `resource_type` plus its requested sub-fields, and
    allows additional properties, so that whatever Asana sends for a requested nested
    object reaches the target instead of being dropped.
    """
    kept: list[str] = []
    properties = schema["properties"]
    for name in list(properties):
        path = f"{prefix}{name}"
        if name in ALWAYS_RETURNED or (prefix and name == "resource_type"):
            continue
        if not prefix and name in TOP_LEVEL_REQUESTED:
            kept.append(path)
            continue
        if path not in paths:
            del properties[name]
            continue
        kept.append(path)
        nested = _object_schema(properties[name])
        if nested is not None:
            kept.extend(prune(nested, paths, f"{path}."))
            nested["additionalProperties"] = True
    return kept


def allow_null_everywhere(schema: dict[str, t.Any]) -> None:
    """Add "null" to the type of every property and array item, in place.

    Asana sends null for unset values even where the spec does not mark the field
    nullable: a custom field's `date_value.date_time` is null for a date without a
    time. A record must stay valid when that happens.
    """
    for prop in schema.get("properties", {}).values():
        if "type" in prop and "null" not in prop["type"]:
            prop["type"] = [*prop["type"], "null"]
        allow_null_everywhere(prop)
    items = schema.get("items")
    if isinstance(items, dict):
        if "type" in items and "null" not in items["type"]:
            items["type"] = [*items["type"], "null"]
        allow_null_everywhere(items)


def derive_stream(spec: dict[str, t.Any], stream: str) -> tuple[dict, list[str]]:
    """Return the JSON Schema and the sorted `opt_fields` list for one stream."""
    stream_spec = STREAM_SPECS[stream]
    resolver = SchemaResolver(spec)
    ref = {"$ref": f"#/components/schemas/{stream_spec.response_schema}"}
    schema = resolver.resolve(ref)

    documented = documented_opt_fields(spec, stream_spec.list_path)
    requested = {path for path in documented if is_reasonable_path(path)}
    opt_fields = sorted(prune(schema, requested))

    allow_null_everywhere(schema)
    # The primary key is never null; every record carries it.
    schema["properties"]["gid"] = {"type": ["string"]}
    for column in stream_spec.parent_columns:
        schema["properties"][column] = {"type": ["string"]}
    schema["type"] = "object"
    schema["required"] = ["gid"]
    return schema, opt_fields


def derive_all(spec: dict[str, t.Any]) -> dict[str, str]:
    """Return the text of every generated file, keyed by file name."""
    files: dict[str, str] = {}
    opt_fields: dict[str, list[str]] = {}
    for stream in STREAM_SPECS:
        schema, fields = derive_stream(spec, stream)
        files[f"{stream}.json"] = json.dumps(schema, indent=2) + "\n"
        opt_fields[stream] = fields
    files[OPT_FIELDS_FILE] = json.dumps(opt_fields, indent=2) + "\n"
    return files


def load_spec(path: Path) -> dict[str, t.Any]:
    """Read the OpenAPI spec (YAML) at `path`."""
    import yaml

    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def main(argv: list[str] | None = None) -> int:
    """Write the derived files, or with --check report which ones are out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="path to Asana's asana_oas.yaml")
    parser.add_argument(
        "--out", type=Path, default=SCHEMAS_DIR, help="output folder (default: %(default)s)"
    )
    parser.add_argument(
        "--check", action="store_true", help="only compare with the files in --out"
    )
    args = parser.parse_args(argv)

    if not args.spec.is_file():
        parser.error(f"spec file not found: {args.spec}")
    files = derive_all(load_spec(args.spec))

    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (args.out / name).is_file()
            or (args.out / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"out of date: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0

    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
