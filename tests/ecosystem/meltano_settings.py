"""Rewrite the plugin definitions in meltano.yml from both plugins' ``--about --format=json``.

Run ``python -m tests.ecosystem.meltano_settings`` after adding or changing a setting of
tap-asana or target-duckdb, because test_plugin_settings_sync.py fails until meltano.yml agrees.
The text before ``plugins:`` and from ``environments:`` on is kept as it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_BIN_DIR = Path(sys.executable).parent

# Meltano setting kind for each JSON Schema type of a setting.
KIND_BY_JSON_TYPE = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}


def about(plugin: str) -> dict[str, Any]:
    output = subprocess.run(  # noqa: S603
        [str(OWN_BIN_DIR / plugin), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(output)


def setting_kind(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "options"
    declared = schema.get("type", "string")
    types = ({declared} if isinstance(declared, str) else set(declared)) - {"null"}
    if len(types) != 1:
        return "string"
    kind = KIND_BY_JSON_TYPE[types.pop()]
    if kind == "string" and schema.get("format") in {"date", "date-time"}:
        return "date_iso8601"
    return kind


def meltano_settings(properties: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    settings = []
    for name, schema in properties.items():
        setting: dict[str, Any] = {
            "name": name,
            "kind": setting_kind(schema),
            "label": schema.get("title") or name.replace("_", " ").capitalize(),
        }
        if schema.get("secret"):
            setting["sensitive"] = True
        if schema.get("default") is not None:
            setting["value"] = schema["default"]
        if "enum" in schema:
            setting["options"] = [{"label": v, "value": v} for v in schema["enum"] if v]
        if schema.get("description"):
            setting["description"] = " ".join(schema["description"].split())
        settings.append(setting)
    return settings


def plugin_definition(plugin: str) -> dict[str, Any]:
    info = about(plugin)
    return {
        "name": plugin,
        "namespace": plugin.replace("-", "_"),
        "pip_url": f"-e ./{plugin}",
        "executable": plugin,
        "capabilities": info["capabilities"],
        "settings_group_validation": [info["settings"].get("required", [])],
        "settings": meltano_settings(info["settings"]["properties"]),
    }


def main() -> None:
    path = REPO_ROOT / "meltano.yml"
    text = path.read_text()
    header, _ = text.split("\nplugins:\n", 1)
    _, environments = text.split("\nenvironments:\n", 1)
    plugins = {
        "plugins": {
            "extractors": [plugin_definition("tap-asana")],
            "loaders": [plugin_definition("target-duckdb")],
        }
    }
    body = yaml.safe_dump(plugins, sort_keys=False, width=100, allow_unicode=True)
    path.write_text(f"{header}\n{body}\nenvironments:\n{environments}")
    print(f"rewrote the plugin definitions in {path}")


if __name__ == "__main__":
    main()
