"""The `omniload` command line: `omniload ingest` loads one Asana table into DuckDB."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import click
from click.core import ParameterSource

from omniload import ingest
from omniload.console import Console
from omniload.errors import CancelledError, ExitCode, OmniloadError
from omniload.uris import SOURCE_FORM

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code.value:>3}  {code.name}" for code in ExitCode
)

_console = Console()
F = TypeVar("F", bound=Callable[..., Any])


class OmniloadGroup(click.Group):
    """A click group that ends every failure with one line on stderr and a named exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        global _console
        _console = Console()
        _console.redact.add_secret(_environ_token())
        kwargs["standalone_mode"] = False
        previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            result = super().main(*args, **kwargs)
        except OmniloadError as error:
            if _console.debug:
                _print_traceback()
            _console.error(error.message)
            sys.exit(int(error.exit_code))
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.ctx.get_help() if error.ctx else str(error), err=True)
            sys.exit(int(ExitCode.USAGE_ERROR))
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx else "omniload"
            _console.error(
                f"{_one_sentence(error.format_message())} Run '{command} --help' for the options."
            )
            sys.exit(int(ExitCode.USAGE_ERROR))
        except click.ClickException as error:
            _console.error(error.format_message())
            sys.exit(int(ExitCode.USAGE_ERROR))
        except click.Abort:
            _console.error("Interrupted: tap-asana and target-duckdb were stopped; data and "
                           "state committed before the interrupt are kept.")
            sys.exit(int(ExitCode.INTERRUPTED))
        except Exception as error:
            if _console.debug:
                _print_traceback()
            else:
                _console.error(
                    f"Internal error: {type(error).__name__}: {error} (run with --debug for the "
                    "traceback)"
                )
            sys.exit(int(ExitCode.INTERNAL_ERROR))
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
        sys.exit(int(result or 0))


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    """Treat SIGTERM like Ctrl-C, so the children are stopped target first."""
    raise KeyboardInterrupt


def _one_sentence(message: str) -> str:
    """Join click's message into one line that ends with a full stop."""
    text = " ".join(message.split())
    # click lists the empty string first among the recognized boolean values.
    text = text.replace("Recognized values: , ", "Recognized values: ")
    return text if text.endswith((".", "!", "?")) else text + "."


def _environ_token() -> str | None:
    return os.environ.get(ingest.TOKEN_VARIABLE)


def _print_traceback() -> None:
    click.echo(_console.redact(traceback.format_exc()), err=True, nl=False)


@click.group(cls=OmniloadGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="omniload")
def main() -> None:
    """Load an Asana workspace into a DuckDB file, fully or incrementally."""


def _option(name: str, help_text: str, **kwargs: Any) -> Callable[[F], F]:
    """Declare `--name`, also read from OMNILOAD_NAME, with the variable shown in --help."""
    variable = "OMNILOAD_" + name.lstrip("-").split()[0].replace("-", "_").upper()
    return click.option(
        *name.split(), envvar=variable, show_envvar=True, help=help_text, **kwargs
    )


@main.command("ingest", epilog=EXIT_CODES_HELP)
@_option("--source-uri", f"{SOURCE_FORM}: both query parameters are optional, in any "
         "order. Without access_token the token comes from ASANA_ACCESS_TOKEN.", metavar="URI")
@_option("--source-table", "One of workspaces, users, teams, projects, sections, tags, tasks, "
         "stories.", metavar="TABLE")
@_option("--dest-uri", "duckdb:///relative/path.db or duckdb:////absolute/path.db; the folder "
         "must exist.", metavar="URI")
@_option("--dest-table", "Destination table, such as public.tasks.", metavar="SCHEMA.TABLE")
@_option("--incremental-strategy", "How rows reach the table. Default: merge for tasks, "
         "replace for the others. merge on stories fetches stories of tasks changed since the "
         "last run only.", metavar="[replace|merge|append]")
@_option("--full-refresh", "Ignore the stored state and replace the table with a full "
         "extraction.", is_flag=True, default=False)
@_option("--interval-start", "Tasks only: lowest modified_at to extract (ISO 8601, UTC if no "
         "offset).", metavar="TIME")
@_option("--interval-end", "Tasks only: highest modified_at to load (ISO 8601, UTC if no "
         "offset).", metavar="TIME")
@_option("--progress", "Progress display on stderr. Default: interactive on a terminal, else "
         "log.", metavar="[interactive|log]")
@_option("--yes -y", "Do not ask for confirmation on a terminal.", is_flag=True, default=False)
@_option("--debug", "Show the output of tap-asana and target-duckdb, and tracebacks.",
         is_flag=True, default=False)
@click.pass_context
def ingest_command(ctx: click.Context, yes: bool, debug: bool, **values: Any) -> None:
    """Load one Asana table into a DuckDB table.

    \b
    Example:
      export ASANA_ACCESS_TOKEN=...
      omniload ingest --source-uri asana://1234567890 --source-table tasks \\
        --dest-uri duckdb:///work.db --dest-table public.tasks

    A second run of the same command loads only the tasks changed since the first. The state
    is stored in the DuckDB file, in the _omniload schema.
    """
    _console.debug = debug
    origins = {
        name: f"OMNILOAD_{name.upper()}"
        for name in values
        if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT
    }
    options = ingest.IngestOptions(origins=origins, **values)
    # The token is masked before validation, so no error can echo it.
    _console.redact.add_secret(_token_of(options.source_uri))
    request = ingest.validate(options)
    _console.redact.add_secret(request.access_token)

    def confirm() -> None:
        if yes or not sys.stdin.isatty():
            return
        if not click.confirm("Proceed?", default=True, err=True):
            raise CancelledError("Cancelled: nothing was loaded.")

    ingest.run(request, _console, confirm)


def _token_of(source_uri: str | None) -> str | None:
    if not source_uri:
        return None
    try:
        query = urlsplit(source_uri).query
    except ValueError:
        return None
    tokens = [value for name, value in parse_qsl(query) if name == "access_token"]
    return tokens[0] if tokens else None
