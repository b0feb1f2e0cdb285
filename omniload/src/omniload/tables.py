"""The eight Asana tables omniload loads, with their keys and default strategies."""

from __future__ import annotations

import dataclasses
import difflib

from omniload.errors import InvalidInputError

STRATEGIES = ("replace", "merge", "append")


@dataclasses.dataclass(frozen=True)
class Table:
    """One source table: the tap-asana stream of the same name."""

    name: str
    key: str
    default_strategy: str
    # Tables extracted incrementally on `modified_at`, where --interval-start/--interval-end apply.
    supports_interval: bool = False


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table("workspaces", "gid", "replace"),
        Table("users", "gid", "replace"),
        Table("teams", "gid", "replace"),
        Table("projects", "gid", "replace"),
        Table("sections", "gid", "replace"),
        Table("tags", "gid", "replace"),
        Table("tasks", "gid", "merge", supports_interval=True),
        Table("stories", "gid", "replace"),
    )
}


def lookup_table(name: str) -> Table:
    """Return the table called `name`, or raise InvalidInputError naming the valid ones."""
    table = TABLES.get(name)
    if table is not None:
        return table
    close = difflib.get_close_matches(name.lower(), TABLES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise InvalidInputError(
        f"Invalid --source-table {name!r}: expected one of {', '.join(TABLES)}.{hint}"
    )
