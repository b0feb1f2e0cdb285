"""Running tap-asana into target-duckdb as two piped child processes.

omniload copies the tap's stdout into the target's stdin itself instead of joining them with an
OS pipe, so it can count records per stream for progress. When the tap fails, omniload kills the
target before closing the target's input. A Singer target treats end of input as a complete run,
so it would otherwise commit a partial replace.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from omniload.errors import ExtractError, LoadError, SetupError

_RECORD = re.compile(rb'^\{\s*"type"\s*:\s*"RECORD"\s*,\s*"stream"\s*:\s*"([^"]+)"')
_ERROR_WORDS = re.compile(r"error|exception|critical|fatal|failed|traceback", re.IGNORECASE)
_LOG_PREFIX = re.compile(
    r"^\d{4}-\d\d-\d\d[ T][\d:,.]+\s*(?:\|\s*)?(?:[A-Z]+\s*(?:\|\s*)?)?(?:[\w.-]+\s*\|\s*)?"
)
_DEBUG_HINT = re.compile(r"\s*\(set [A-Z_]+=1 for a traceback\)")
_STDERR_LINES_KEPT = 200
_PR_SET_PDEATHSIG = 1


def find_executable(name: str) -> str:
    """Return the path of `name` next to this Python interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise SetupError(
        f"{name} is not installed next to {sys.executable} nor on PATH: install it from this "
        f"repository with pip install ./{name}."
    )


def write_private_json(path: Path, data: Any) -> None:
    """Write `data` as JSON to a new file readable only by this user (mode 0600)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _prepare_child() -> None:
    """Unblock the stop signals and ask Linux to SIGKILL this child when omniload dies.

    NOTE: Linux closes a dying omniload's pipes just before it sends this signal, so in that
    short window the target can read end of input and start to finish a partial replace.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block ends.

    A KeyboardInterrupt raised while Popen forks is swallowed by fork hooks, and one raised
    before Popen's result is stored leaves a child that is never stopped. Deferring the signal
    to the end of the block avoids both.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    # A new session keeps a terminal's Ctrl-C away from the children, so omniload decides the
    # order in which they stop (target first).
    preexec = _prepare_child if sys.platform == "linux" else None
    return subprocess.Popen(  # noqa: S603
        argv, start_new_session=True, preexec_fn=preexec, **kwargs
    )


def summarize_error(lines: list[str], program: str) -> str:
    """Return the line of a child's stderr that best explains why it failed.

    Log prefixes, the program's own ``program: error:`` prefix and its hint to set a debug
    variable are removed, because omniload prints its own prefix and `--debug` sets it.
    """
    candidates = [line.strip() for line in lines if line.strip()]
    candidates = [line for line in candidates if not line.startswith(("File ", "^", "~"))]
    if not candidates:
        return "no error message"
    chosen = candidates[-1]
    for line in reversed(candidates):
        if _ERROR_WORDS.search(line) and not line.startswith("Traceback"):
            chosen = line
            break
    chosen = _LOG_PREFIX.sub("", chosen).strip() or chosen
    chosen = _DEBUG_HINT.sub("", chosen).strip()
    prefix = f"{program}: error: "
    return chosen[len(prefix):] if chosen.startswith(prefix) else chosen


def advise_for_omniload(summary: str) -> str:
    """Replace the advice in target-duckdb's lock error with advice for an omniload user.

    The target's message advises running the target again, which an omniload user never does.
    """
    marker = "is locked by another process"
    position = summary.find(marker)
    if position < 0:
        return summary
    end = summary.find(". ", position)
    locked = summary[: end + 1] if end >= 0 else summary.rstrip(".") + "."
    return (
        f"{locked} DuckDB allows one writer per file, so wait for the other run or program to "
        "finish, then run omniload again."
    )


class _StderrReader(threading.Thread):
    """Keep the last lines of a child's stderr, and echo them live when asked."""

    def __init__(self, stream: IO[bytes], echo: Callable[[str], None] | None) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._echo = echo
        self.lines: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)

    def run(self) -> None:
        for raw in self._stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if self._echo is not None:
                self._echo(line)


class Discovery:
    """``tap --discover`` running in the background while omniload does other work.

    Discovery reads no data from Asana, so it can run while omniload checks the workspace,
    which saves one program start of waiting before extraction.
    """

    def __init__(
        self,
        tap: str,
        config: Path | str,
        echo: Callable[[str], None] | None,
        environment: dict[str, str] | None = None,
    ) -> None:
        with signals_deferred():
            self._process = _spawn(
                [tap, "--config", str(config), "--discover"],
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._stderr = _StderrReader(self._process.stderr, echo)
        self._stderr.start()
        self._output = b""
        self._stdout = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout.start()

    def _read_stdout(self) -> None:
        assert self._process.stdout is not None
        self._output = self._process.stdout.read()

    def catalog(self) -> dict[str, Any]:
        """Wait for the tap to finish and return its catalog."""
        try:
            self._process.wait()
            self._finish_reading()
        except BaseException:
            self.stop()
            raise
        if self._process.returncode != 0:
            raise ExtractError(
                f"tap-asana --discover failed (exit {self._process.returncode}): "
                f"{summarize_error(list(self._stderr.lines), 'tap-asana')}"
            )
        try:
            catalog: dict[str, Any] = json.loads(self._output)
        except ValueError as error:
            raise ExtractError(
                f"tap-asana --discover printed no valid catalog: {error}"
            ) from error
        return catalog

    def _finish_reading(self) -> None:
        self._stdout.join()
        self._stderr.join()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def stop(self) -> None:
        """Stop the tap if it is still running and wait for it."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._finish_reading()


def run_discovery(
    tap: str,
    config: Path | str,
    echo: Callable[[str], None] | None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``tap --discover`` and return its catalog."""
    return Discovery(tap, config, echo, environment).catalog()


class StreamCounter:
    """Records per stream that the tap has sent, read by the progress display."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.counts: collections.Counter[str] = collections.Counter()
        self.first_seen: dict[str, float] = {}


class Pipeline:
    """One run of the tap into the target."""

    def __init__(
        self,
        tap_argv: list[str],
        target_argv: list[str],
        echo_stderr: Callable[[str], None] | None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.tap_argv = tap_argv
        self.environment = environment
        self.target_argv = target_argv
        self.echo_stderr = echo_stderr
        self.counter = StreamCounter()
        self.target_input_broken = False
        self.copy_error: Exception | None = None
        self.tap_returncode: int | None = None
        self._tap: subprocess.Popen[bytes] | None = None
        self._target: subprocess.Popen[bytes] | None = None

    def _copy_tap_output(self) -> None:
        """Forward the tap's messages to the target, counting RECORD messages per stream."""
        tap, target = self._tap, self._target
        assert tap is not None and tap.stdout is not None
        assert target is not None and target.stdin is not None
        try:
            self._forward_lines(tap, target)
        except Exception as error:  # reported by run() after both processes stop
            # Kill the target first: waiting for input that never ends, it would hang the run.
            self.copy_error = error
            target.kill()
            tap.kill()
            self.tap_returncode = tap.wait()
            target.wait()
            return
        self.tap_returncode = tap.wait()
        if self.tap_returncode != 0:
            # The target must not see end of input after a failed extraction (see module doc).
            target.kill()
            target.wait()
        with contextlib.suppress(BrokenPipeError, ValueError):
            target.stdin.close()

    def _forward_lines(
        self, tap: subprocess.Popen[bytes], target: subprocess.Popen[bytes]
    ) -> None:
        assert tap.stdout is not None and target.stdin is not None
        counts, first_seen = self.counter.counts, self.counter.first_seen
        for line in tap.stdout:
            match = _RECORD.match(line)
            if match:
                stream = match.group(1).decode("utf-8", "replace")
                if stream not in first_seen:
                    first_seen[stream] = time.monotonic()
                counts[stream] += 1
            try:
                target.stdin.write(line)
            except (BrokenPipeError, ValueError):
                self.target_input_broken = True
                tap.kill()
                return

    def run(self, on_tick: Callable[[StreamCounter], None], tick_seconds: float) -> None:
        """Run both processes to completion; raise ExtractError or LoadError if one fails."""
        readers: list[_StderrReader] = []
        try:
            with signals_deferred():
                self._target = _spawn(
                    self.target_argv,
                    env=self.environment,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                self._tap = _spawn(
                    self.tap_argv,
                    env=self.environment,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            assert self._tap.stderr is not None and self._target.stderr is not None
            tap_reader = _StderrReader(self._tap.stderr, self._prefixed("tap-asana"))
            target_reader = _StderrReader(self._target.stderr, self._prefixed("target-duckdb"))
            readers = [tap_reader, target_reader]
            copier = threading.Thread(target=self._copy_tap_output, daemon=True)
            for thread in (tap_reader, target_reader, copier):
                thread.start()
            while copier.is_alive():
                copier.join(tick_seconds)
                on_tick(self.counter)
            target_returncode = self._target.wait()
        except BaseException:
            self.stop()
            raise
        finally:
            for reader in readers:
                reader.join(5)
            self._close_pipes()

        if self.copy_error is not None:
            raise LoadError(
                "Forwarding messages from tap-asana to target-duckdb failed: "
                f"{type(self.copy_error).__name__}: {self.copy_error}"
            )
        tap_returncode = self.tap_returncode
        if self.target_input_broken or (target_returncode != 0 and tap_returncode == 0):
            summary = summarize_error(list(target_reader.lines), "target-duckdb")
            raise LoadError(
                f"target-duckdb failed (exit {target_returncode}): {advise_for_omniload(summary)}"
            )
        if tap_returncode != 0:
            raise ExtractError(
                f"tap-asana failed (exit {tap_returncode}): "
                f"{summarize_error(list(tap_reader.lines), 'tap-asana')}"
            )

    def stop(self) -> None:
        """Kill the target first, so it commits nothing more, then the tap."""
        for process in (self._target, self._tap):
            if process is not None and process.poll() is None:
                process.kill()
        for process in (self._target, self._tap):
            if process is not None:
                process.wait()

    def _close_pipes(self) -> None:
        """Close omniload's ends of the children's pipes once both children have stopped."""
        for process in (self._tap, self._target):
            if process is None or process.poll() is None:
                continue
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError, ValueError):
                        stream.close()

    def _prefixed(self, name: str) -> Callable[[str], None] | None:
        echo = self.echo_stderr
        if echo is None:
            return None
        return lambda line: echo(f"{name}: {line}")
