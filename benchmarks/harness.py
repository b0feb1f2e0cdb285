"""Run contenders alternately, measure wall time and peak memory, and store the raw results.

A benchmark builds a list of ``Contender`` objects and calls ``compare``. Each round runs every
contender once, in order (A, B, A, B, ...), so slow phases of a shared machine hit all of them
alike. Peak RSS is the largest sum of resident memory over the whole process tree (a pipeline's
processes and all their children), sampled with psutil.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
WORK_DIR = REPO / "benchmarks" / "work"
SAMPLE_INTERVAL_S = 0.02
# Maximum duration of one contender's run before it is killed and the comparison fails.
# Tests lower it.
RUN_TIMEOUT_S = 3600.0


class BenchmarkError(RuntimeError):
    """A contender failed or produced output that cannot be measured."""


@dataclass
class Measurement:
    """Wall time and peak tree RSS of one run of one command or pipeline."""

    wall_s: float
    peak_rss_bytes: int
    returncodes: list[int]
    stderr_tail: str


@dataclass
class Contender:
    """One side of a comparison.

    ``pipeline`` is one or more commands whose standard output feeds the next one's input.
    ``prepare`` runs before every round, untimed (for example to delete the DuckDB file), and
    ``collect`` runs after it, untimed, and returns extra figures such as rows in the table.
    ``pipeline`` and ``env`` are called after ``prepare``, so they may use what it set up (a
    server's new port, a fresh config file).
    """

    name: str
    pipeline: Callable[[], list[list[str]]]
    stdin_path: Path | None = None
    stdout_path: Path | None = None
    env: Callable[[], dict[str, str]] = dict
    prepare: Callable[[], None] = lambda: None
    collect: Callable[[Measurement], dict] = lambda m: {}
    redact: Sequence[str] = ()
    """Strings (secrets) replaced by ``***`` wherever a command is stored or printed."""

    def display_pipeline(self) -> str:
        text = " | ".join(shlex.join(cmd) for cmd in self.pipeline())
        text = text.replace(f"{REPO}/", "")
        for secret in self.redact:
            if secret:
                text = text.replace(secret, "***")
        return text


def _tree_rss(roots: list[psutil.Process]) -> int:
    total = 0
    for root in roots:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
    return total


def _kill_trees(roots: list[psutil.Process]) -> None:
    """Kill each root process and every descendant, so a hung child does not outlive the run."""
    for root in roots:
        try:
            procs = [*root.children(recursive=True), root]
        except psutil.Error:
            continue
        for proc in procs:
            try:
                proc.kill()
            except psutil.Error:
                continue


def run_pipeline(
    commands: list[list[str]],
    stdin_path: Path | None = None,
    stdout_path: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float | None = None,
) -> Measurement:
    """Run ``commands`` as a pipeline and measure wall time and peak RSS of all its processes."""
    full_env = {**os.environ, **(env or {})}
    timeout_s = RUN_TIMEOUT_S if timeout_s is None else timeout_s
    stdin = stdin_path.open("rb") if stdin_path else subprocess.DEVNULL
    stdout = stdout_path.open("wb") if stdout_path else subprocess.DEVNULL
    stderr_files: list = []
    procs: list[subprocess.Popen] = []
    peak = 0
    start = time.perf_counter()

    try:
        previous = stdin
        for position, command in enumerate(commands):
            last = position == len(commands) - 1
            err = tempfile.TemporaryFile()
            stderr_files.append(err)
            proc = subprocess.Popen(
                command,
                stdin=previous,
                stdout=stdout if last else subprocess.PIPE,
                stderr=err,
                env=full_env,
                cwd=REPO,
            )
            if position > 0 and procs[-1].stdout is not None:
                # Let the previous process get SIGPIPE when this one exits.
                procs[-1].stdout.close()
            procs.append(proc)
            previous = proc.stdout

        roots = [psutil.Process(p.pid) for p in procs]
        deadline = start + timeout_s
        while any(p.poll() is None for p in procs):
            peak = max(peak, _tree_rss(roots))
            if time.perf_counter() > deadline:
                _kill_trees(roots)
                raise BenchmarkError(f"timed out after {timeout_s:.0f} s: {commands[0][0]}")
            time.sleep(SAMPLE_INTERVAL_S)
        wall = time.perf_counter() - start
    except BaseException:
        for err in stderr_files:
            err.close()
        raise
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if stdin_path:
            stdin.close()  # type: ignore[union-attr]
        if stdout_path:
            stdout.close()  # type: ignore[union-attr]

    tails = []
    for err in stderr_files:
        err.seek(0)
        data = err.read()
        err.close()
        tails.append(data[-3000:].decode("utf-8", "replace"))
    return Measurement(
        wall_s=wall,
        peak_rss_bytes=peak,
        returncodes=[p.returncode for p in procs],
        stderr_tail="\n".join(tails),
    )


def median(values: list[float]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


@dataclass
class Comparison:
    """Raw runs and medians of one comparison; ``payload`` is what gets stored as JSON."""

    name: str
    runs: list[dict]
    medians: dict[str, dict[str, float | None]]
    payload: dict


def compare(
    name: str,
    contenders: list[Contender],
    rounds: int,
    metrics: list[str],
    baseline: str,
    higher_is_better: Sequence[str] = (),
    ratio_metrics: Sequence[str] = ("wall_s", "peak_rss_bytes"),
    params: dict | None = None,
    command: str = "",
    log: Callable[[str], None] = print,
) -> Comparison:
    """Run each contender ``rounds`` times, alternating, and compute medians and ratios.

    ``command`` is the command line that reproduces the comparison, stored with the result.
    ``metrics`` names the figures to summarize; ``wall_s`` and ``peak_rss_bytes`` come from the
    measurement and the others from each contender's ``collect``. Ratios, for ``ratio_metrics``
    and ``higher_is_better``, compare every contender with ``baseline`` so that a ratio above 1 is better for the contender: baseline/contender for
    times and memory, contender/baseline for the ``higher_is_better`` figures.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    displays: dict[str, str] = {}
    for round_number in range(1, rounds + 1):
        for contender in contenders:
            contender.prepare()
            displays[contender.name] = contender.display_pipeline()
            measurement = run_pipeline(
                contender.pipeline(), contender.stdin_path, contender.stdout_path, contender.env()
            )
            if any(code != 0 for code in measurement.returncodes):
                log(measurement.stderr_tail)
                raise BenchmarkError(
                    f"{contender.name} failed with exit codes {measurement.returncodes} "
                    f"in round {round_number}; its stderr is printed above"
                )
            figures = {"wall_s": measurement.wall_s,
                       "peak_rss_bytes": measurement.peak_rss_bytes}
            figures.update(contender.collect(measurement))
            run = {"round": round_number, "contender": contender.name, **figures}
            runs.append(run)
            log(f"  round {round_number} {contender.name}: " + format_figures(figures))

    medians = {
        c.name: {m: median([r.get(m) for r in runs if r["contender"] == c.name]) for m in metrics}
        for c in contenders
    }
    ratios: dict[str, dict[str, float | None]] = {}
    base = medians[baseline]
    for contender in contenders:
        if contender.name == baseline:
            continue
        ratios[contender.name] = {}
        for metric in [m for m in (*higher_is_better, *ratio_metrics) if m in metrics]:
            ours, theirs = medians[contender.name][metric], base[metric]
            if not ours or not theirs:
                ratios[contender.name][metric] = None
            elif metric in higher_is_better:
                ratios[contender.name][metric] = ours / theirs
            else:
                ratios[contender.name][metric] = theirs / ours

    payload = {
        "benchmark": name,
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "params": params or {},
        "rounds": rounds,
        "baseline": baseline,
        "contenders": displays,
        "metrics": metrics,
        "higher_is_better": list(higher_is_better),
        "medians": medians,
        "ratios_vs_baseline": ratios,
        "runs": runs,
        "environment": environment(),
    }
    log(format_summary(payload))
    return Comparison(name=name, runs=runs, medians=medians, payload=payload)


def format_figures(figures: dict) -> str:
    parts = []
    for key, value in figures.items():
        if key == "peak_rss_bytes":
            parts.append(f"peak_rss={value / 2**20:.0f} MiB")
        elif isinstance(value, float):
            parts.append(f"{key}={value:.3g}" if abs(value) < 1000 else f"{key}={value:.0f}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def format_summary(payload: dict) -> str:
    lines = [f"{payload['benchmark']}: medians of {payload['rounds']} alternating rounds"]
    for name, figures in payload["medians"].items():
        lines.append(f"  {name}: " + format_figures(figures))
    for name, ratios in payload["ratios_vs_baseline"].items():
        shown = " ".join(
            f"{metric}={value:.2f}x" for metric, value in ratios.items() if value is not None
        )
        lines.append(f"  {name} against {payload['baseline']}: {shown}")
    return "\n".join(lines)


def save(payload: dict, stem: str, results_dir: Path = RESULTS_DIR) -> Path:
    """Write the payload as ``<stem>.json`` under ``results_dir`` and return its path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{stem}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return platform.processor() or "unknown"
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def environment() -> dict:
    """Describe the machine and the versions behind a result."""
    from benchmarks import anchors  # late import: anchors imports this module

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "duckdb": _package_version("duckdb"),
        "singer-sdk": _package_version("singer-sdk"),
        "ours": {name: _package_version(name)
                 for name in ("tap-asana", "target-duckdb", "omniload")},
        "anchors": anchors.installed_versions(),
    }
