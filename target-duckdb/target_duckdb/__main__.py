"""Run the target with `python -m target_duckdb`."""

from target_duckdb.target import TargetDuckDB

TargetDuckDB.cli()
