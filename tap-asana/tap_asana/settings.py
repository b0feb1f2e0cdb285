"""Checks of the tap's settings and config files, each failure worded as one sentence.

No message contains the value of a setting that the config schema marks `secret`.
"""

from __future__ import annotations

import json
import os
import typing as t
from decimal import Decimal
from pathlib import Path

from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR, extend_validator_with_defaults

from tap_asana.client import to_asana_timestamp

if t.TYPE_CHECKING:
    from jsonschema import ValidationError

# Validates like singer-sdk does, which also fills in the default of each missing setting.
SettingsValidator = extend_validator_with_defaults(DEFAULT_JSONSCHEMA_VALIDATOR)

# Accepted values of each setting, worded to complete "<setting> <value> is not ...".
EXPECTED_VALUES = {
    "access_token": "a non-empty Asana personal or OAuth access token",
    "workspace_gid": "a non-empty string, the gid of an Asana workspace",
    "start_date": "an ISO 8601 date-time such as 2024-01-31T00:00:00Z",
    "api_url": "an http or https URL such as https://app.asana.com/api/1.0",
    "stories_mode": "one of full, incremental",
    "request_timeout": "a number of seconds greater than 0",
    "max_concurrent_requests": "an integer from 1 to 50",
    "max_requests_per_minute": "an integer of 1 or more",
    "retry_time_budget": "a number of seconds, 0 or more",
    "emit_activate_version_messages": "true or false",
}


class ConfigSourceError(Exception):
    """A --config file or environment variable from which no settings can be read."""


def read_config_file(path: str) -> dict[str, t.Any]:
    """Return the settings in `path`, a file containing one JSON object.

    The file is read exactly once, because it may be a named pipe that can be read only
    once (omniload hands settings over that way). Raises ConfigSourceError otherwise.

    The messages name the file and the position of a JSON syntax error, never the
    file's content, which may contain the access token.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        msg = (
            f"Config file {path} not found. Pass the path of a JSON file of settings to "
            "--config, or --config ENV to read TAP_ASANA_* environment variables."
        )
        raise ConfigSourceError(msg) from exc
    except OSError as exc:
        msg = f"Could not read config file {path}: {exc.strerror or exc}."
        raise ConfigSourceError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"Config file {path} is not UTF-8 text. Save it as UTF-8 JSON."
        raise ConfigSourceError(msg) from exc

    try:
        settings = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = (
            f"Config file {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}. Fix the file so that it contains one JSON object."
        )
        raise ConfigSourceError(msg) from exc
    if not isinstance(settings, dict):
        msg = (
            f"Config file {path} contains a JSON {type(settings).__name__}, but it must "
            'contain one JSON object of settings, such as {"access_token": "..."}.'
        )
        raise ConfigSourceError(msg)
    return settings


def check_integer_variables(schema: dict, prefix: str) -> None:
    """Raise ConfigSourceError if an integer setting's environment variable is no integer.

    singer-sdk converts these variables with int() and raises a bare ValueError.
    """
    for name, property_schema in schema.get("properties", {}).items():
        variable = prefix + name.upper().replace("-", "_")
        value = os.environ.get(variable)
        if value is None or "integer" not in _types(property_schema):
            continue
        try:
            int(value)
        except ValueError:
            expected = EXPECTED_VALUES.get(name, "an integer")
            msg = f"Environment variable {variable} '{value}' is not {expected}."
            if property_schema.get("secret"):
                msg = f"Environment variable {variable} (value not shown) is not {expected}."
            raise ConfigSourceError(msg) from None


def convert_number_strings(schema: dict, config: dict[str, t.Any]) -> None:
    """Convert number settings given as strings, as environment variables are, in place.

    singer-sdk converts integer and boolean variables, but leaves number ones as text.
    A string that is no number stays, and fails validation.
    """
    for name, property_schema in schema.get("properties", {}).items():
        value = config.get(name)
        if isinstance(value, str) and "number" in _types(property_schema):
            try:
                config[name] = float(value)
            except ValueError:
                continue


def setting_errors(schema: dict, config: dict[str, t.Any]) -> list[str]:
    """Return one sentence per invalid or missing setting, in the order of the schema.

    Fills `config` with the default of each missing setting, as singer-sdk does.
    """
    by_setting: dict[str, str] = {}
    for error in SettingsValidator(schema).iter_errors(config):
        for name, message in _describe(error, schema):
            by_setting.setdefault(name, message)

    start_date = config.get("start_date")
    if isinstance(start_date, str) and "start_date" not in by_setting:
        try:
            to_asana_timestamp(start_date)
        except ValueError:
            by_setting["start_date"] = _not_expected("start_date", start_date, schema)

    order = list(schema.get("properties", {}))
    names = sorted(by_setting, key=lambda name: order.index(name) if name in order else len(order))
    return [by_setting[name] for name in names]


def summarize(errors: list[str]) -> str:
    """Join setting errors into one line."""
    if len(errors) == 1:
        return errors[0]
    return f"{len(errors)} invalid settings: " + " ".join(errors)


def _describe(error: ValidationError, schema: dict) -> t.Iterator[tuple[str, str]]:
    """Yield `(setting, sentence)` for one schema validation error."""
    if not error.absolute_path and error.validator == "required":
        for name in error.validator_value:
            if name not in error.instance:
                env_name = "TAP_ASANA_" + name.upper()
                yield name, f"Missing setting {name}: set it in the config file or in {env_name}."
        return
    if not error.absolute_path:
        yield "", f"Invalid settings: {error.message}."
        return

    name = str(error.absolute_path[0])
    if len(error.absolute_path) == 1 and name in EXPECTED_VALUES:
        yield name, _not_expected(name, error.instance, schema)
        return
    location = ".".join(str(part) for part in error.absolute_path)
    if _is_secret(name, schema):
        yield name, f"Invalid setting {location} (value not shown): {error.validator} check failed."
    else:
        yield name, f"Invalid setting {location}: {error.message}."


def _not_expected(name: str, value: t.Any, schema: dict) -> str:
    expected = EXPECTED_VALUES[name]
    if _is_secret(name, schema):
        return f"{name} (value not shown) is not {expected}."
    return f"{name} {_show(value)} is not {expected}."


def _show(value: t.Any) -> str:
    """Write a setting's value as in JSON, but with strings in single quotes."""
    if isinstance(value, str):
        return f"'{value}'"
    # singer-sdk reads numbers in config files as Decimal, which json.dumps cannot write.
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, default=str)


def _types(property_schema: dict) -> list[str]:
    types = property_schema.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def _is_secret(name: str, schema: dict) -> bool:
    return bool(schema.get("properties", {}).get(name, {}).get("secret"))

