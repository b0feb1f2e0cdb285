"""Write Singer messages for task-like records, for measuring the target by hand.

Usage: python generate_tasks.py ROWS OUTPUT [--batch-dir DIR [--batch-rows N]
[--compression gzip|none]] [--start-id N]

Each record is about 1.9 KB of JSON with nested objects, arrays, timestamps with
offsets and nulls, similar to an Asana task. With --batch-dir the records go to
JSONL files announced by singer-sdk BATCH messages instead of RECORD lines.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path

STREAM = "tasks"

SCHEMA = {
    "type": "object",
    "properties": {
        "gid": {"type": "string"},
        "name": {"type": ["null", "string"]},
        "notes": {"type": ["null", "string"]},
        "completed": {"type": ["null", "boolean"]},
        "num_likes": {"type": ["null", "integer"]},
        "estimate": {"type": ["null", "number"]},
        "created_at": {"type": ["null", "string"], "format": "date-time"},
        "modified_at": {"type": ["null", "string"], "format": "date-time"},
        "due_on": {"type": ["null", "string"], "format": "date"},
        "assignee": {
            "type": ["null", "object"],
            "properties": {"gid": {"type": "string"}, "name": {"type": "string"}},
        },
        "memberships": {"type": ["null", "array"], "items": {"type": "object"}},
        "tags": {"type": ["null", "array"], "items": {"type": "object"}},
        "custom_fields": {"type": ["null", "array"], "items": {"type": "object"}},
        "permalink_url": {"type": ["null", "string"]},
    },
}


def make_record(index: int, rng: random.Random) -> dict:
    """Return one task-like record."""
    words = ["alpha", "beta", "gamma", "delta", "release", "review", "fix", "plan"]
    return {
        "gid": str(1_200_000_000_000 + index),
        "name": " ".join(rng.choice(words) for _ in range(6)),
        "notes": " ".join(rng.choice(words) for _ in range(110)),
        "completed": rng.random() < 0.3,
        "num_likes": rng.randrange(20),
        "estimate": round(rng.random() * 40, 2),
        "created_at": f"2024-0{rng.randrange(1, 9)}-1{rng.randrange(10)}T10:0{rng.randrange(10)}:00.000Z",
        "modified_at": f"2025-0{rng.randrange(1, 9)}-1{rng.randrange(10)}T08:00:00-03:00",
        "due_on": None if rng.random() < 0.5 else "2025-12-31",
        "assignee": {"gid": str(rng.randrange(10_000)), "name": "Person " + str(rng.randrange(500))},
        "memberships": [
            {
                "project": {"gid": str(rng.randrange(100_000)), "name": "Project " + rng.choice(words)},
                "section": {"gid": str(rng.randrange(100_000)), "name": "Section " + rng.choice(words)},
            }
            for _ in range(2)
        ],
        "tags": [{"gid": str(rng.randrange(1000)), "name": rng.choice(words)} for _ in range(3)],
        "custom_fields": [
            {
                "gid": str(rng.randrange(1_000_000)),
                "name": "Field " + rng.choice(words),
                "type": "enum",
                "display_value": rng.choice(words),
                "enum_value": {"gid": str(rng.randrange(1000)), "name": rng.choice(words), "color": "blue"},
            }
            for _ in range(3)
        ],
        "permalink_url": f"https://app.asana.com/0/0/{1_200_000_000_000 + index}",
    }


def main() -> None:
    """Write the messages file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("output", type=Path)
    parser.add_argument("--batch-dir", type=Path)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--compression", choices=["gzip", "none"], default="gzip")
    parser.add_argument("--start-id", type=int, default=0)
    arguments = parser.parse_args()

    rng = random.Random(arguments.start_id)
    with arguments.output.open("w", encoding="utf-8") as output:
        schema = {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["gid"]}
        output.write(json.dumps(schema) + "\n")
        if arguments.batch_dir is None:
            for index in range(arguments.start_id, arguments.start_id + arguments.rows):
                message = {"type": "RECORD", "stream": STREAM, "record": make_record(index, rng)}
                output.write(json.dumps(message) + "\n")
        else:
            arguments.batch_dir.mkdir(parents=True, exist_ok=True)
            for first in range(0, arguments.rows, arguments.batch_rows):
                gzipped = arguments.compression == "gzip"
                suffix = ".jsonl.gz" if gzipped else ".jsonl"
                path = (arguments.batch_dir / f"{STREAM}-{first}{suffix}").resolve()
                opener = gzip.open if gzipped else open
                with opener(path, "wt", encoding="utf-8") as batch:
                    last = min(first + arguments.batch_rows, arguments.rows)
                    for index in range(arguments.start_id + first, arguments.start_id + last):
                        batch.write(json.dumps(make_record(index, rng)) + "\n")
                message = {
                    "type": "BATCH",
                    "stream": STREAM,
                    "encoding": {"format": "jsonl", "compression": arguments.compression},
                    "manifest": [path.as_uri()],
                }
                output.write(json.dumps(message) + "\n")
        output.write(json.dumps({"type": "STATE", "value": {"rows": arguments.rows}}) + "\n")


if __name__ == "__main__":
    main()
