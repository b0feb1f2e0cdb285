"""Diagnostics on stderr and results on stdout, always through the token redactor."""

from __future__ import annotations

import sys
import time

import click

from omniload.redact import Redactor
from omniload.runner import StreamCounter


class Console:
    """Print lines with every known secret masked."""

    def __init__(self) -> None:
        self.redact = Redactor()
        self.debug = False

    def info(self, message: str) -> None:
        """Print a diagnostic line on stderr."""
        click.echo(self.redact(message), err=True)

    def result(self, message: str) -> None:
        """Print a result line on stdout."""
        click.echo(self.redact(message))

    def error(self, message: str) -> None:
        """Print the one-line error that ends a failed run."""
        first_line = self.redact(message).strip().splitlines() or ["unknown error"]
        click.echo(f"Error: {first_line[0]}", err=True)


def _format_rates(
    counter: StreamCounter, no_records: str = "waiting for the first records"
) -> str:
    now = time.monotonic()
    parts = []
    for stream, rows in sorted(counter.counts.items()):
        seconds = max(now - counter.first_seen.get(stream, counter.started), 1e-6)
        # Plain digits, as in the summary line, so that scripts can read both the same way.
        parts.append(f"{stream}: {rows} rows, {rows / seconds:.0f} rows/s")
    return "; ".join(parts) or no_records


class Progress:
    """Rows and rows per second per stream: one rewritten line on a terminal, else log lines."""

    def __init__(self, console: Console, interactive: bool, log_every_seconds: float = 10.0):
        self.console = console
        self.interactive = interactive
        self.log_every_seconds = log_every_seconds
        self.tick_seconds = 0.5 if interactive else 1.0
        self._last_log = time.monotonic()
        self._width = 0

    def tick(self, counter: StreamCounter) -> None:
        """Show the current figures; called every `tick_seconds` while the run goes on."""
        text = self.console.redact(_format_rates(counter))
        if self.interactive:
            padding = " " * max(self._width - len(text), 0)
            sys.stderr.write(f"\r{text}{padding}")
            sys.stderr.flush()
            self._width = len(text)
            return
        if time.monotonic() - self._last_log >= self.log_every_seconds:
            self._last_log = time.monotonic()
            self.console.info(f"Progress: {text}")

    def finish(self, counter: StreamCounter, streams: tuple[str, ...] = ()) -> None:
        """End the progress display with the final figures, 0 rows for `streams` not seen."""
        if self.interactive and self._width:
            sys.stderr.write("\n")
            sys.stderr.flush()
        empty = [f"{stream}: 0 rows" for stream in streams if not counter.counts.get(stream)]
        text = "; ".join(part for part in (*empty, _format_rates(counter, "")) if part)
        self.console.info(f"Extracted: {text or '0 rows'}")
