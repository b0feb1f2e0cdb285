"""meltano.yml and .env.example agree with what tap-asana and target-duckdb report in --about."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

import pytest
import yaml

from tests.ecosystem.plugin_venvs import REPO_ROOT
from tests.ecosystem.singer_pipe import OWN_BIN_DIR

pytestmark = pytest.mark.ecosystem

PLUGINS = [("extractors", "tap-asana"), ("loaders", "target-duckdb")]
REGENERATE = "meltano.yml is out of date: run python -m tests.ecosystem.meltano_settings"

# Meltano setting kind expected for each JSON Schema type of a setting.
KIND_BY_JSON_TYPE = {
    "string": {"string", "options", "date_iso8601", "file"},
    "integer": {"integer"},
    "number": {"decimal"},
    "boolean": {"boolean"},
    "object": {"object"},
    "array": {"array"},
}


@cache
def about(plugin: str) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603
        [str(OWN_BIN_DIR / plugin), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, f"{plugin} --about failed:\n{result.stderr[-2000:]}"
    return json.loads(result.stdout)


def builtin_setting_names(plugin: str) -> set[str]:
    """Return the settings singer-sdk adds to every plugin with the same capabilities."""
    # The console script is "module:PluginClass.cli"; the class is what it is an attribute of.
    (entry_point,) = entry_points(group="console_scripts", name=plugin)
    class_name = entry_point.attr.split(".")[0]
    plugin_class = getattr(import_module(entry_point.module), class_name)
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    plugin_class.append_builtin_config(schema)
    return set(schema["properties"])


def meltano_plugin(plugin_type: str, name: str) -> dict[str, Any]:
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    (plugin,) = [entry for entry in project["plugins"][plugin_type] if entry["name"] == name]
    return plugin


def json_types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        types |= json_types(option)
    return types - {"null"}


# A variable line, commented out (an optional setting shown with its default) or not.
ENV_LINE = re.compile(
    r"^(?P<optional>#\s*(?P<example>example:\s*)?)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$"
)


def env_example_lines() -> dict[str, tuple[bool, str]]:
    """Return {variable: (commented out, value)} for every variable line of .env.example."""
    lines = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            lines[match["name"]] = (bool(match["optional"]), match["value"])
    return lines


def env_example_marked_examples() -> set[str]:
    """Return the variables whose commented-out line is marked as an example value."""
    marked = set()
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match and match["example"]:
            marked.add(match["name"])
    return marked


def env_example_names() -> list[str]:
    return list(env_example_lines())


def env_prefix(plugin: str) -> str:
    return plugin.upper().replace("-", "_") + "_"


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_meltano_settings_match_about(plugin_type: str, name: str) -> None:
    reported = about(name)["settings"]["properties"]
    settings = meltano_plugin(plugin_type, name)["settings"]
    declared = {setting["name"]: setting for setting in settings}

    assert sorted(declared) == sorted(reported), REGENERATE
    for setting_name, schema in reported.items():
        setting = declared[setting_name]
        kind = setting.get("kind", "string")
        for json_type in json_types(schema):
            assert kind in KIND_BY_JSON_TYPE[json_type], (setting_name, kind, json_type)
        is_secret = bool(schema.get("secret") or schema.get("writeOnly"))
        assert bool(setting.get("sensitive")) == is_secret, setting_name
        if "enum" in schema:
            assert kind == "options", setting_name
            option_values = [option["value"] for option in setting["options"]]
            assert sorted(option_values) == sorted(value for value in schema["enum"] if value)
        if "default" in schema and schema["default"] is not None:
            assert setting.get("value") == schema["default"], setting_name


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_meltano_capabilities_match_about(plugin_type: str, name: str) -> None:
    declared = meltano_plugin(plugin_type, name)["capabilities"]

    assert sorted(declared) == sorted(about(name)["capabilities"])


@pytest.mark.parametrize(("plugin_type", "name"), PLUGINS)
def test_meltano_requires_what_about_requires(plugin_type: str, name: str) -> None:
    required = set(about(name)["settings"].get("required", []))
    groups = meltano_plugin(plugin_type, name).get("settings_group_validation", [[]])

    assert {frozenset(group) for group in groups} == {frozenset(required)}


def test_access_token_is_sensitive_in_meltano() -> None:
    declared = {s["name"]: s for s in meltano_plugin("extractors", "tap-asana")["settings"]}

    assert declared["access_token"]["sensitive"] is True
    assert about("tap-asana")["settings"]["properties"]["access_token"].get("secret") is True


@pytest.mark.parametrize("name", [name for _, name in PLUGINS])
def test_env_example_lists_plugin_settings(name: str) -> None:
    reported = about(name)["settings"]["properties"]
    prefix = env_prefix(name)
    listed = {key[len(prefix) :].lower() for key in env_example_names() if key.startswith(prefix)}
    own = set(reported) - builtin_setting_names(name)

    assert own, f"{name} --about reports no settings of its own"
    assert sorted(own - listed) == [], "settings missing from .env.example"
    assert sorted(listed - set(reported)) == [], ".env.example names unknown settings"


def test_env_example_names_only_known_plugins() -> None:
    prefixes = tuple(env_prefix(name) for _, name in PLUGINS)

    assert [key for key in env_example_names() if not key.startswith(prefixes)] == []


def test_env_example_leaves_token_empty() -> None:
    assert env_example_lines()["TAP_ASANA_ACCESS_TOKEN"] == (False, "")


@pytest.mark.parametrize("name", [name for _, name in PLUGINS])
def test_env_example_required_settings_active(name: str) -> None:
    required = about(name)["settings"].get("required", [])
    lines = env_example_lines()

    for setting in required:
        commented_out, _ = lines[env_prefix(name) + setting.upper()]
        assert not commented_out, setting


@pytest.mark.parametrize("name", [name for _, name in PLUGINS])
def test_env_example_defaults_match_about(name: str) -> None:
    reported = about(name)["settings"]["properties"]
    prefix = env_prefix(name)

    for variable, (commented_out, value) in env_example_lines().items():
        setting = variable[len(prefix) :].lower()
        if not variable.startswith(prefix) or not commented_out:
            continue
        default = reported[setting].get("default")
        if default is not None:
            assert value == json.dumps(default).strip('"'), variable


@pytest.mark.parametrize("name", [name for _, name in PLUGINS])
def test_env_example_marks_values_without_default(name: str) -> None:
    reported = about(name)["settings"]["properties"]
    prefix = env_prefix(name)
    marked = env_example_marked_examples()

    for variable, (commented_out, _value) in env_example_lines().items():
        if not variable.startswith(prefix) or not commented_out:
            continue
        has_default = reported[variable[len(prefix) :].lower()].get("default") is not None
        assert (variable in marked) != has_default, variable
