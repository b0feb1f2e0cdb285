"""`omniload ingest --help` and the README document the same options and exit codes."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from omniload.cli import main
from omniload.errors import ExitCode
from omniload.uris import SOURCE_FORM

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _help_text() -> str:
    result = CliRunner().invoke(main, ["ingest", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def _readme_section(title: str) -> str:
    return README.split(f"\n{title}\n", 1)[1].split("\n## ", 1)[0]


def test_help_lists_readme_options() -> None:
    rows = re.findall(r"^\| (`--[^|]+`) \| (`OMNILOAD_[^|]+`) \|", README, re.MULTILINE)
    help_text = _help_text()

    assert len(rows) == 10
    for options, variables in rows:
        for option in re.findall(r"`(--[a-z-]+)`", options):
            assert option in help_text
        for variable in re.findall(r"`(OMNILOAD_[A-Z_]+)`", variables):
            assert variable in help_text


def test_exit_codes_match_readme() -> None:
    table = re.findall(r"^\| (\d+) \| `([A-Z_]+)` \|", _readme_section("## Exit codes"),
                       re.MULTILINE)
    help_text = _help_text()

    assert {(int(code), name) for code, name in table} == {
        (code.value, code.name) for code in ExitCode
    }
    for code in ExitCode:
        assert re.search(rf"\b{code.value}\s+{code.name}\b", help_text)


def test_bare_command_prints_help() -> None:
    result = CliRunner().invoke(main, [])

    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "ingest" in result.output


def test_source_form_is_written_once() -> None:
    row = re.search(r"^\| `--source-uri` \| `OMNILOAD_SOURCE_URI` \| (.*) \|$", README,
                    re.MULTILINE)
    help_text = " ".join(_help_text().split())

    assert row is not None
    assert row.group(1).startswith(f"`{SOURCE_FORM}`")
    assert "ASANA_ACCESS_TOKEN" in row.group(1)
    assert SOURCE_FORM in help_text
    assert "[&api_url=URL]" not in README + help_text
    assert "both query parameters are optional, in any order" in help_text


def test_source_errors_show_same_form() -> None:
    for uri in ("asana://", "https://app.asana.com/0/1", "asana://1/tasks"):
        result = CliRunner().invoke(
            main, ["ingest", "--source-uri", uri], env={"ASANA_ACCESS_TOKEN": "0/abc"}
        )

        assert result.exit_code == ExitCode.USAGE_ERROR
        assert f"Expected {SOURCE_FORM}." in result.stderr


def test_missing_token_names_variable_first() -> None:
    result = CliRunner().invoke(
        main,
        ["ingest", "--source-uri", "asana://1", "--source-table", "tasks",
         "--dest-uri", "duckdb:///work.db", "--dest-table", "public.tasks"],
        env={"ASANA_ACCESS_TOKEN": None},
    )

    assert result.exit_code == ExitCode.USAGE_ERROR
    assert "Missing access token: set ASANA_ACCESS_TOKEN, or add ?access_token=TOKEN" in (
        result.stderr
    )
