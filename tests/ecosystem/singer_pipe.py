"""Run a Singer tap piped into a Singer target as two real processes, the way a shell would."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Console scripts of this repository's plugins, installed into the interpreter running pytest.
OWN_BIN_DIR = Path(sys.executable).parent
TIMEOUT_SECONDS = 300
STDERR_TAIL_CHARS = 4000


@dataclass(frozen=True)
class PipeResult:
    """What a finished tap-to-target run left behind."""

    state_lines: list[dict[str, Any]]
    tap_stderr: str
    target_stderr: str

    @property
    def final_state(self) -> dict[str, Any] | None:
        return self.state_lines[-1] if self.state_lines else None


class PipeFailedError(AssertionError):
    """Raised when the tap or the target exits non-zero; carries the end of its stderr."""


def write_config(folder: Path, name: str, config: dict[str, Any]) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def run_tap_into_target(
    tap_command: list[str],
    target_command: list[str],
    workdir: Path,
    env: dict[str, str] | None = None,
) -> PipeResult:
    """Pipe ``tap_command``'s stdout into ``target_command`` and wait for both to exit.

    Both stderr streams go to files under ``workdir`` so a failure shows what each process
    printed. The target's stdout carries STATE messages, one JSON object per line.
    """
    tap_err_path = workdir / "tap.stderr"
    target_err_path = workdir / "target.stderr"
    with open(tap_err_path, "w") as tap_err, open(target_err_path, "w") as target_err:
        tap = subprocess.Popen(  # noqa: S603
            tap_command, stdout=subprocess.PIPE, stderr=tap_err, cwd=workdir, env=env
        )
        target = subprocess.Popen(  # noqa: S603
            target_command,
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=target_err,
            cwd=workdir,
            env=env,
        )
        # Closing the parent's copy lets the tap receive SIGPIPE if the target exits early.
        assert tap.stdout is not None
        tap.stdout.close()
        try:
            target_out, _ = target.communicate(timeout=TIMEOUT_SECONDS)
            tap.wait(timeout=TIMEOUT_SECONDS)
        finally:
            for process in (tap, target):
                if process.poll() is None:
                    process.kill()
                    process.wait()

    tap_stderr = tap_err_path.read_text()
    target_stderr = target_err_path.read_text()
    if tap.returncode != 0:
        raise PipeFailedError(
            f"{tap_command[0]} exited with {tap.returncode}:\n{tap_stderr[-STDERR_TAIL_CHARS:]}"
        )
    if target.returncode != 0:
        raise PipeFailedError(
            f"{target_command[0]} exited with {target.returncode}:\n"
            f"{target_stderr[-STDERR_TAIL_CHARS:]}"
        )
    state_lines = [json.loads(line) for line in target_out.decode().splitlines() if line.strip()]
    return PipeResult(state_lines, tap_stderr, target_stderr)
