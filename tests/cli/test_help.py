"""`omniload ingest --help` and the README document the same options and exit codes."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from omniload.cli import main
from omniload.errors import ExitCode

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
