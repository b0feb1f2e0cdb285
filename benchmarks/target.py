"""Target load: our target-duckdb against PyPI's target-duckdb 0.8.0, side by side.

Both load the same generated Singer stream of task-like records into a fresh DuckDB file, then a
second stream with the same gids, a fraction of them changed, into the file the first load made
(a merge on ``gid``). Ours runs twice: fed RECORD messages and fed BATCH messages that point to
JSONL files. Figures: rows/s, peak RSS of the process tree, rows and distinct gids in the table.

    python -m benchmarks.target --records 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from benchmarks import anchors
from benchmarks.harness import RESULTS_DIR, WORK_DIR, Contender, compare, save
from benchmarks.singer_stream import StreamFiles, write_stream

SCHEMA_NAME = "bench"
OURS_TARGET = [str(Path(sys.executable).with_name("target-duckdb"))]
METRICS = ["rows_per_s", "wall_s", "peak_rss_bytes", "rows", "distinct_gids", "changed_rows"]


def table_counts(db_path: Path, table: str = "tasks") -> dict:
    """Count rows, distinct gids and rows carrying the changed-record marker in ``table``."""
    if not db_path.exists():
        return {"rows": 0, "distinct_gids": 0, "changed_rows": 0}
    with duckdb.connect(str(db_path), read_only=True) as con:
        found = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [table]
        ).fetchall()
        if not found:
            return {"rows": 0, "distinct_gids": 0, "changed_rows": 0}
        qualified = f'"{found[0][0]}"."{table}"'
        rows, gids, changed = con.execute(
            f"select count(*), count(distinct gid), "  # noqa: S608 (names from the catalog)
            f"count(*) filter (where name like '% (rev 1)') from {qualified}"
        ).fetchone()
    return {"rows": rows, "distinct_gids": gids, "changed_rows": changed}


@dataclass
class TargetSide:
    """How to run one target: its command line and the input encoding it reads."""

    name: str
    command: list[str]
    encoding: str  # "records" or "batch"


def _config_file(folder: Path, db_path: Path) -> Path:
    config = folder / "config.json"
    config.write_text(json.dumps({"path": str(db_path), "default_target_schema": SCHEMA_NAME}))
    return config


def make_contenders(
    sides: list[TargetSide],
    stream: StreamFiles,
    work: Path,
    start_from: Callable[[TargetSide], Path | None],
) -> list[Contender]:
    """Build one contender per side loading ``stream``.

    ``start_from`` returns the DuckDB file a side's run starts from (copied before every round),
    or None for a fresh file.
    """
    contenders = []
    for side in sides:
        folder = work / side.name.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        db_path = folder / "out.duckdb"
        config = _config_file(folder, db_path)

        def prepare(side=side, db_path=db_path) -> None:
            for leftover in (db_path, db_path.with_suffix(".duckdb.wal")):
                leftover.unlink(missing_ok=True)
            base = start_from(side)
            if base is not None:
                shutil.copyfile(base, db_path)

        def collect(measurement, db_path=db_path) -> dict:
            counts = table_counts(db_path)
            return {"rows_per_s": stream.record_count / measurement.wall_s, **counts}

        contenders.append(Contender(
            name=side.name,
            pipeline=lambda side=side, config=config: [[*side.command, "--config", str(config)]],
            stdin_path=stream.records if side.encoding == "records" else stream.batch,
            prepare=prepare,
            collect=collect,
        ))
    return contenders


def default_sides(anchor_command: list[str] | None) -> list[TargetSide]:
    if anchor_command is None:
        anchor_command = [str(anchors.ensure("target-duckdb") / "target-duckdb")]
    return [
        TargetSide("target-duckdb 0.8.0", anchor_command, "records"),
        TargetSide("ours RECORD", OURS_TARGET, "records"),
        TargetSide("ours BATCH", OURS_TARGET, "batch"),
    ]


def run(
    records: int,
    rounds: int,
    changed: float,
    anchor_command: list[str] | None = None,
    work: Path = WORK_DIR / "target",
    results_dir: Path = RESULTS_DIR,
    command: str = "",
) -> list[dict]:
    """Run the fresh-load and merge comparisons and save both results; return their payloads."""
    sides = default_sides(anchor_command)
    print(f"generating {records} records and a copy with {changed:.0%} changed in {work}")
    fresh_stream = write_stream(work / "stream-fresh", records)
    merge_stream = write_stream(work / "stream-merge", records, changed_fraction=changed)
    params = {"records": records, "changed_fraction": changed,
              "bytes_per_record": round(_bytes_per_record(fresh_stream), 0)}

    fresh = make_contenders(sides, fresh_stream, work / "fresh", start_from=lambda side: None)
    fresh_result = compare(
        "target-fresh", fresh, rounds, METRICS, baseline=sides[0].name,
        higher_is_better=["rows_per_s"], params=params, command=command,
    )
    save(fresh_result.payload, f"target-fresh-{records}", results_dir)

    def loaded_base(side: TargetSide) -> Path:
        # The fresh phase's last round left each side's file loaded with the fresh stream.
        return work / "fresh" / side.name.replace(" ", "_") / "out.duckdb"

    bases = {}
    for side in sides:
        base = work / "merge-base" / (side.name.replace(" ", "_") + ".duckdb")
        base.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(loaded_base(side), base)
        bases[side.name] = base

    merge = make_contenders(sides, merge_stream, work / "merge",
                            start_from=lambda side: bases[side.name])
    merge_result = compare(
        "target-merge", merge, rounds, METRICS, baseline=sides[0].name,
        higher_is_better=["rows_per_s"], params=params, command=command,
    )
    save(merge_result.payload, f"target-merge-{records}", results_dir)
    return [fresh_result.payload, merge_result.payload]


def _bytes_per_record(stream: StreamFiles) -> float:
    total = sum(p.stat().st_size for p in (stream.records.parent / "batch_files").glob("*.jsonl"))
    return total / max(stream.record_count, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender")
    parser.add_argument("--changed", type=float, default=0.3,
                        help="fraction of records changed in the merge stream")
    parser.add_argument("--anchor-command", default=None,
                        help="command replacing the PyPI anchor (a stand-in for quick tests)")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR / "target")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    anchor = shlex.split(args.anchor_command) if args.anchor_command else None
    command = "python -m benchmarks.target " + shlex.join(argv if argv is not None
                                                          else sys.argv[1:])
    run(args.records, args.rounds, args.changed, anchor, args.work_dir, args.results_dir,
        command.strip())


if __name__ == "__main__":
    main()
