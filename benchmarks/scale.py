"""Scale: our target-duckdb at growing record counts, to show whether memory stays flat.

For each size, generates the task-like stream and loads it into a fresh DuckDB file, fed RECORD
messages and fed BATCH files, alternately. Figures: seconds, rows/s and peak RSS per size.

    python -m benchmarks.scale --sizes 10000 100000 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmarks.harness import RESULTS_DIR, WORK_DIR, compare, save
from benchmarks.singer_stream import write_stream
from benchmarks.target import METRICS, OURS_TARGET, TargetSide, make_contenders


def run(
    sizes: list[int],
    rounds: int,
    target_command: list[str] = OURS_TARGET,
    work: Path = WORK_DIR / "scale",
    results_dir: Path = RESULTS_DIR,
    command: str = "",
) -> list[dict]:
    """Load each size with both encodings; save one result per size and return the payloads."""
    sides = [TargetSide("ours RECORD", target_command, "records"),
             TargetSide("ours BATCH", target_command, "batch")]
    payloads = []
    for size in sizes:
        print(f"generating {size} records in {work}")
        stream = write_stream(work / "stream", size)
        contenders = make_contenders(sides, stream, work / f"load-{size}",
                                     start_from=lambda side: None)
        result = compare(f"scale-{size}", contenders, rounds, METRICS,
                         baseline="ours RECORD", higher_is_better=["rows_per_s"],
                         params={"records": size}, command=command)
        save(result.payload, f"scale-{size}", results_dir)
        payloads.append(result.payload)
    return payloads


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each encoding per size")
    parser.add_argument("--target-command", default=None,
                        help="command replacing our target-duckdb (a stand-in for quick tests)")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR / "scale")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    target = shlex.split(args.target_command) if args.target_command else OURS_TARGET
    arguments = argv if argv is not None else sys.argv[1:]
    run(args.sizes, args.rounds, target, args.work_dir, args.results_dir,
        ("python -m benchmarks.scale " + shlex.join(arguments)).strip())


if __name__ == "__main__":
    main()
