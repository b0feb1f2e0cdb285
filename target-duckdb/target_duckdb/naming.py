"""Names of schemas, tables and columns, and SQL quoting."""

from __future__ import annotations

import typing as t


def quote(identifier: str) -> str:
    """Quote an identifier for DuckDB SQL, doubling any double quote inside it."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """Quote a string literal for DuckDB SQL."""
    return "'" + value.replace("'", "''") + "'"


def qualified(*parts: str) -> str:
    """Return the quoted parts joined by dots, such as `"catalog"."schema"."table"`."""
    return ".".join(quote(part) for part in parts)


def split_table(name: str, default_schema: str) -> tuple[str, str]:
    """Split a stream name or a `schema.table` setting into (schema, table).

    `public.tasks` lands in schema `public`, table `tasks`. With more than one dot,
    the last two parts are used, so `db.public.tasks` also lands in `public.tasks`.
    A name without a dot lands in `default_schema`. Empty parts are rejected.
    """
    parts = name.split(".")
    if len(parts) == 1:
        schema, table = default_schema, parts[0]
    else:
        schema, table = parts[-2], parts[-1]
    if not schema or not table:
        msg = f"Invalid table name '{name}': expected 'table' or 'schema.table'."
        raise ValueError(msg)
    return schema, table


def column_names(properties: t.Iterable[str]) -> dict[str, str]:
    """Map each property name to a column name that is distinct in DuckDB.

    DuckDB compares identifiers without regard to case, even quoted ones, so `Name`
    and `name` would be the same column. Within each group of properties that differ
    only in case, the names are sorted by code point: the first keeps its name and
    the others get a suffix `__2`, `__3`, ... in that order. A suffixed name that is
    already used by another property gets the next number. The result depends only on the
    set of property names, never on their order in the schema. An empty property
    name becomes `_`.
    """
    names = list(dict.fromkeys(properties))
    # DuckDB rejects an empty identifier, so an empty property name is shown as "_".
    display_names = {name: name or "_" for name in names}
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(display_names[name].lower(), []).append(name)

    used = {display_names[name].lower() for name in names}
    mapping: dict[str, str] = {}
    for folded in sorted(groups):
        members = sorted(groups[folded], key=lambda member: (display_names[member], member))
        mapping[members[0]] = display_names[members[0]]
        suffix = 2
        for member in members[1:]:
            candidate = f"{display_names[member]}__{suffix}"
            while candidate.lower() in used:
                suffix += 1
                candidate = f"{display_names[member]}__{suffix}"
            used.add(candidate.lower())
            mapping[member] = candidate
            suffix += 1
    return {name: mapping[name] for name in names}
