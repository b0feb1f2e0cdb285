"""Field selection: compact and full records, opt-in fields and `opt_fields` paths."""

from __future__ import annotations

from typing import Any

FieldTree = dict[str, "FieldTree"]

# Fields of the compact form each list endpoint returns by default (the spec's `XCompact`).
COMPACT_FIELDS: dict[str, tuple[str, ...]] = {
    "workspace": ("gid", "resource_type", "name"),
    "user": ("gid", "resource_type", "name"),
    "team": ("gid", "resource_type", "name"),
    "project": ("gid", "resource_type", "name"),
    "section": ("gid", "resource_type", "name"),
    "tag": ("gid", "resource_type", "name"),
    "task": ("gid", "resource_type", "name", "resource_subtype"),
    "story": ("gid", "resource_type", "created_at", "created_by", "resource_subtype", "text"),
    "user_task_list": ("gid", "resource_type", "name"),
}

# Fields the spec marks "[Opt In]": left out of full records unless opt_fields names them.
OPT_IN_FIELDS: dict[str, frozenset[str]] = {
    "workspace": frozenset(),
    "user": frozenset(),
    "team": frozenset({"description", "html_description"}),
    "project": frozenset({"html_notes", "project_brief", "created_from_template"}),
    "section": frozenset(),
    "tag": frozenset(),
    "task": frozenset(
        {
            "created_by",
            "dependencies",
            "dependents",
            "external",
            "html_notes",
            "is_rendered_as_separator",
            "num_subtasks",
        }
    ),
    "story": frozenset({"html_text"}),
    "user_task_list": frozenset(),
}


class FieldError(ValueError):
    """An opt_fields value that cannot be used; the message is the API error message."""


def parse_opt_fields(raw: str) -> FieldTree:
    """Parse `a,b.c,this.d.(e|f)` into a tree `{"a": {}, "b": {"c": {}}, "d": {"e": {}, "f": {}}}`.

    Empty items are skipped; a `this.` prefix names the top-level object.
    """
    tree: FieldTree = {}
    for item in _split_top_level(raw):
        item = item.strip()
        if not item:
            continue
        if item == "this":
            continue
        if item.startswith("this."):
            item = item[len("this.") :]
        for path in _expand_groups(item):
            node = tree
            for part in path.split("."):
                if not part:
                    raise FieldError(f"opt_fields: Invalid field path: {item}")
                node = node.setdefault(part, {})
    return tree


def _split_top_level(raw: str) -> list[str]:
    """Split on commas outside parentheses."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in raw:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    if depth != 0:
        raise FieldError(f"opt_fields: Unbalanced parentheses in {raw}")
    return items


def _expand_groups(path: str) -> list[str]:
    """Expand the group operator: `a.(b|c.d)` becomes `a.b` and `a.c.d`."""
    start = path.find("(")
    if start < 0:
        return [path]
    depth = 0
    for end in range(start, len(path)):
        if path[end] == "(":
            depth += 1
        elif path[end] == ")":
            depth -= 1
            if depth == 0:
                break
    else:
        raise FieldError(f"opt_fields: Unbalanced parentheses in {path}")
    prefix, inner, suffix = path[:start], path[start + 1 : end], path[end + 1 :]
    options: list[str] = []
    current: list[str] = []
    depth = 0
    for char in inner:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "|" and depth == 0:
            options.append("".join(current))
            current = []
        else:
            current.append(char)
    options.append("".join(current))
    expanded = []
    for option in options:
        for tail in _expand_groups(option + suffix):
            expanded.extend(_expand_groups(prefix + tail))
    return expanded


def select(
    record: dict[str, Any], resource: str, tree: FieldTree | None, full: bool, strict: bool = False
) -> dict[str, Any]:
    """Return the view of a stored full record that a request gets.

    Without opt_fields (`tree` is None) a list gets the compact form and a single GET the full
    form minus opt-in fields. With opt_fields the result has `gid` plus each named field the
    record has; unknown names are skipped, or raise FieldError when `strict`.
    """
    if tree is None:
        if full:
            opt_in = OPT_IN_FIELDS[resource]
            return {k: v for k, v in record.items() if k not in opt_in}
        return {k: record[k] for k in COMPACT_FIELDS[resource] if k in record}
    out: dict[str, Any] = {"gid": record["gid"]}
    for name, subtree in tree.items():
        if name in record:
            out[name] = _trim(record[name], subtree)
        elif strict and not is_conditional(resource, name):
            raise FieldError(f"opt_fields: Unknown field {name} for resource type {resource}")
    return out


def _trim(value: Any, tree: FieldTree) -> Any:
    """Select sub-fields of a nested value.

    A reference named without sub-fields shrinks to `gid` and `resource_type`. A plain object
    without a `gid` (dates, photo, membership) keeps its keys, and references inside it shrink.
    """
    if isinstance(value, list):
        return [_trim(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    is_reference = "gid" in value and "resource_type" in value
    if not tree:
        if is_reference:
            return {"gid": value["gid"], "resource_type": value["resource_type"]}
        return {k: _trim(v, {}) for k, v in value.items()}
    out: dict[str, Any] = {}
    if "gid" in value:
        out["gid"] = value["gid"]
    for name, subtree in tree.items():
        if name in value:
            out[name] = _trim(value[name], subtree)
    return out


# Fields that only some records of a resource carry, so a named one is left out where it does not
# apply. Stories carry change fields for their own subtype only, as Asana documents. Projects in a
# workspace that is not an organization have no team.
CONDITIONAL_FIELDS: dict[str, frozenset[str]] = {
    "story": frozenset(
        {
            "sticker_name",
            "old_name",
            "new_name",
            "old_dates",
            "new_dates",
            "old_resource_subtype",
            "new_resource_subtype",
            "story",
            "assignee",
            "follower",
            "old_section",
            "new_section",
            "task",
            "project",
            "tag",
            "custom_field",
            "old_text_value",
            "new_text_value",
            "old_number_value",
            "new_number_value",
            "old_enum_value",
            "new_enum_value",
            "old_date_value",
            "new_date_value",
            "old_people_value",
            "new_people_value",
            "old_multi_enum_values",
            "new_multi_enum_values",
            "new_approval_status",
            "old_approval_status",
            "duplicate_of",
            "duplicated_from",
            "dependency",
        }
    ),
    "project": frozenset({"team"}),
}


def is_conditional(resource: str, name: str) -> bool:
    return name in CONDITIONAL_FIELDS.get(resource, frozenset())
