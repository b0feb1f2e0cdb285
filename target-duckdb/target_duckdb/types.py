"""Map JSON Schema property definitions to DuckDB column types.

This module is the one place that decides column types. The README's type table
describes the same rules.
"""

from __future__ import annotations

import decimal
import re
import typing as t

VARCHAR = "VARCHAR"
JSON = "JSON"
BIGINT = "BIGINT"
HUGEINT = "HUGEINT"
DOUBLE = "DOUBLE"
BOOLEAN = "BOOLEAN"
TIMESTAMPTZ = "TIMESTAMPTZ"
DATE = "DATE"
TIMETZ = "TIMETZ"

# DuckDB's DECIMAL has at most 38 digits.
MAX_DECIMAL_PRECISION = 38
# Scale used for `x-singer.decimal` values that declare no scale.
DEFAULT_DECIMAL_SCALE = 9

_STRING_FAMILY = {VARCHAR, TIMESTAMPTZ, DATE, TIMETZ}
_DECIMAL_RE = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def decimal_type(precision: int, scale: int) -> str:
    """Return a DECIMAL type, or VARCHAR when DuckDB cannot hold the precision."""
    if precision > MAX_DECIMAL_PRECISION or scale > precision:
        return VARCHAR
    return f"DECIMAL({precision},{scale})"


def parse_decimal(column_type: str) -> tuple[int, int] | None:
    """Return (precision, scale) of a DECIMAL type name, or None for other types."""
    match = _DECIMAL_RE.match(column_type.upper())
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def _scale_of_multiple(multiple_of: t.Any) -> int | None:
    """Return the decimal scale that `multipleOf` implies, or None when it implies none.

    `multipleOf: 0.01` means two decimal places. A multiple that is not a power of
    ten (0.25, 3) is not a fixed scale, so the number stays DOUBLE.
    """
    try:
        value = decimal.Decimal(str(multiple_of))
    except decimal.InvalidOperation:
        return None
    if value <= 0 or value >= 1:
        return None
    exponent = value.normalize().as_tuple().exponent
    if not isinstance(exponent, int) or value.normalize() != decimal.Decimal(1).scaleb(exponent):
        return None
    return -exponent


def _types_of(schema: dict) -> list[str]:
    declared = schema.get("type")
    if declared is None:
        return []
    if isinstance(declared, str):
        return [declared]
    return [name for name in declared if isinstance(name, str)]


def _string_type(schema: dict) -> str:
    string_format = schema.get("format")
    if string_format == "date-time":
        return TIMESTAMPTZ
    if string_format == "date":
        return DATE
    if string_format == "time":
        # TIMETZ keeps a UTC offset such as `10:00:00-03:00`; values without one
        # are read as UTC.
        return TIMETZ
    if string_format == "x-singer.decimal":
        precision = schema.get("precision") or MAX_DECIMAL_PRECISION
        scale = schema.get("scale")
        if scale is None:
            scale = min(DEFAULT_DECIMAL_SCALE, precision)
        return decimal_type(int(precision), int(scale))
    return VARCHAR


def _number_type(schema: dict) -> str:
    if schema.get("x-singer.decimal") or schema.get("format") == "x-singer.decimal":
        precision = schema.get("precision") or MAX_DECIMAL_PRECISION
        scale = schema.get("scale")
        if scale is None:
            scale = min(DEFAULT_DECIMAL_SCALE, precision)
        return decimal_type(int(precision), int(scale))
    if "multipleOf" in schema:
        scale = _scale_of_multiple(schema["multipleOf"])
        if scale is not None:
            return decimal_type(MAX_DECIMAL_PRECISION, scale)
    return DOUBLE


def _single_type(name: str, schema: dict) -> str:
    if name == "string":
        return _string_type(schema)
    if name == "integer":
        return BIGINT
    if name == "number":
        return _number_type(schema)
    if name == "boolean":
        return BOOLEAN
    return JSON


def column_type(schema: t.Any) -> str:
    """Return the DuckDB type for one property's JSON Schema.

    Objects, arrays, `{}`, schemas without a type and mixed types become JSON.
    `null` in a type list only makes the column nullable, and every column is.
    """
    if not isinstance(schema, dict):
        return JSON

    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(alternatives, list):
        types = [
            column_type(option)
            for option in alternatives
            if isinstance(option, dict) and _types_of(option) != ["null"]
        ]
        return combine_alternatives(types)

    names = [name for name in _types_of(schema) if name != "null"]
    if not names:
        return JSON
    if len(names) == 1:
        return _single_type(names[0], schema)
    return combine_alternatives([_single_type(name, schema) for name in names])


def combine_alternatives(types: list[str]) -> str:
    """Return one column type for a property that may hold any of `types`."""
    if not types:
        return JSON
    distinct = list(dict.fromkeys(types))
    if len(distinct) == 1:
        return distinct[0]
    if all(name in _STRING_FAMILY for name in distinct):
        return VARCHAR
    if all(_is_numeric(name) for name in distinct):
        result = distinct[0]
        for name in distinct[1:]:
            result = _widen_numeric(result, name)
        return result
    return JSON


def _is_numeric(column_type_name: str) -> bool:
    return column_type_name in {BIGINT, HUGEINT, DOUBLE} or parse_decimal(column_type_name) is not None


def _integer_digits(column_type_name: str) -> int:
    if column_type_name == BIGINT:
        return 19
    return 39


def _widen_numeric(first: str, second: str) -> str:
    if DOUBLE in (first, second):
        return DOUBLE
    first_decimal = parse_decimal(first)
    second_decimal = parse_decimal(second)
    if first_decimal is None and second_decimal is None:
        return HUGEINT if HUGEINT in (first, second) else BIGINT
    if first_decimal is not None and second_decimal is not None:
        scale = max(first_decimal[1], second_decimal[1])
        digits = max(first_decimal[0] - first_decimal[1], second_decimal[0] - second_decimal[1])
        if digits + scale > MAX_DECIMAL_PRECISION:
            return DOUBLE
        return decimal_type(digits + scale, scale)
    precision, scale = first_decimal or second_decimal  # type: ignore[misc]
    integer_type = second if first_decimal else first
    digits = max(precision - scale, _integer_digits(integer_type))
    if digits + scale > MAX_DECIMAL_PRECISION:
        return DOUBLE
    return decimal_type(digits + scale, scale)


def normalize(column_type_name: str) -> str:
    """Return the spelling this module uses for a type name DuckDB reports."""
    upper = column_type_name.upper()
    aliases = {
        "TIMESTAMP WITH TIME ZONE": TIMESTAMPTZ,
        "TIME WITH TIME ZONE": TIMETZ,
        "INTEGER": BIGINT,
        "INT64": BIGINT,
        "INT128": HUGEINT,
        "FLOAT8": DOUBLE,
        "STRING": VARCHAR,
        "TEXT": VARCHAR,
        "BOOL": BOOLEAN,
    }
    decimal_parts = parse_decimal(upper)
    if decimal_parts is not None:
        return f"DECIMAL({decimal_parts[0]},{decimal_parts[1]})"
    return aliases.get(upper, upper)


def widen(existing: str, declared: str) -> str:
    """Return the type a column must have to hold both its old values and new ones.

    Numbers widen to the wider number type. Strings with different formats widen to
    VARCHAR, and so do JSON and VARCHAR together. Any other pair with JSON becomes
    JSON, so old scalar values are converted with `to_json`. Every remaining pair
    becomes VARCHAR, which can store the text of any old value.
    """
    existing = normalize(existing)
    declared = normalize(declared)
    if existing == declared:
        return existing
    if _is_numeric(existing) and _is_numeric(declared):
        return _widen_numeric(existing, declared)
    if existing in _STRING_FAMILY and declared in _STRING_FAMILY:
        return VARCHAR
    if JSON in (existing, declared):
        return VARCHAR if VARCHAR in (existing, declared) else JSON
    return VARCHAR


def is_integer(column_type_name: str) -> bool:
    """Return whether values of this column type are JSON integers."""
    return normalize(column_type_name) in {BIGINT, HUGEINT}
