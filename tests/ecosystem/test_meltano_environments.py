"""meltano.yml's environments load into separate places, even with .env.example's settings."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def _env_example() -> dict[str, str]:
    """Return the variables .env.example sets (its uncommented NAME=VALUE lines)."""
    variables = {}
    for line in (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name, separator, value = line.partition("=")
        if separator and not line.startswith("#"):
            variables[name.strip()] = value
    return variables


def _loader_target(environment: dict, variables: dict[str, str]) -> tuple[str, str]:
    """Return the (path, schema) target-duckdb writes to, with variables winning as in Meltano."""
    config: dict = {}
    for loader in environment["config"]["plugins"].get("loaders", []):
        if loader["name"] == "target-duckdb":
            config = loader.get("config", {})
    path = variables.get("TARGET_DUCKDB_PATH", config.get("path", ""))
    schema = variables.get("TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA",
                           config.get("default_target_schema", "main"))
    return path, schema


def test_without_notes_loads_apart_from_dev() -> None:
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text(encoding="utf-8"))
    environments = {item["name"]: item for item in project["environments"]}

    for variables in ({}, _env_example()):
        dev = _loader_target(environments["dev"], variables)
        without_notes = _loader_target(environments["without-notes"], variables)

        assert dev != without_notes, variables
        assert dev[1] == "tap_asana"


def test_meltano_comment_matches_without_notes_schema() -> None:
    text = (REPO_ROOT / "meltano.yml").read_text(encoding="utf-8")
    project = yaml.safe_load(text)
    (without_notes,) = [item for item in project["environments"]
                        if item["name"] == "without-notes"]
    (loader,) = without_notes["config"]["plugins"]["loaders"]
    schema = loader["config"]["default_target_schema"]
    header = text.split("requires_meltano", 1)[0]

    assert f"schema, {schema}," in " ".join(header.replace("#", " ").split())
