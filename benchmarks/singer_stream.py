"""Generate Singer message files of task-like records for the target benchmarks.

Every record looks like an Asana task fetched with full ``opt_fields``: a nested assignee and
workspace, memberships, tags, followers and custom fields of several types. Records serialize to
about 1.9 KB each. Output is deterministic for a given seed, so the fresh stream and the changed
stream agree on every gid and differ only where a record was changed.

Command line::

    python -m benchmarks.singer_stream --records 100000 --out benchmarks/work/stream
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

STREAM = "tasks"
# Records per BATCH file; each file becomes one BATCH message.
BATCH_FILE_RECORDS = 10_000

_REF = {"type": ["object", "null"], "properties": {
    "gid": {"type": ["string"]},
    "name": {"type": ["string", "null"]},
    "resource_type": {"type": ["string", "null"]},
}}

SCHEMA: dict = {
    "type": "object",
    "properties": {
        "gid": {"type": ["string"]},
        "resource_type": {"type": ["string", "null"]},
        "resource_subtype": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "notes": {"type": ["string", "null"]},
        "completed": {"type": ["boolean", "null"]},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "modified_at": {"type": ["string", "null"], "format": "date-time"},
        "due_on": {"type": ["string", "null"], "format": "date"},
        "due_at": {"type": ["string", "null"], "format": "date-time"},
        "start_on": {"type": ["string", "null"], "format": "date"},
        "num_likes": {"type": ["integer", "null"]},
        "num_subtasks": {"type": ["integer", "null"]},
        "liked": {"type": ["boolean", "null"]},
        "assignee_status": {"type": ["string", "null"]},
        "permalink_url": {"type": ["string", "null"]},
        "assignee": _REF,
        "workspace": _REF,
        "parent": _REF,
        "memberships": {"type": ["array", "null"], "items": {"type": "object", "properties": {
            "project": _REF,
            "section": _REF,
        }}},
        "tags": {"type": ["array", "null"], "items": _REF},
        "followers": {"type": ["array", "null"], "items": _REF},
        "custom_fields": {"type": ["array", "null"], "items": {"type": "object", "properties": {
            "gid": {"type": ["string"]},
            "name": {"type": ["string", "null"]},
            "resource_type": {"type": ["string", "null"]},
            "resource_subtype": {"type": ["string", "null"]},
            "type": {"type": ["string", "null"]},
            "display_value": {"type": ["string", "null"]},
            "text_value": {"type": ["string", "null"]},
            "number_value": {"type": ["number", "null"]},
            "enum_value": _REF,
        }}},
    },
}

_WORDS = (
    "plan review ship draft fix audit budget launch sync design test deploy report call "
    "update migrate clean document triage roadmap hire onboard invoice renew backlog"
).split()
_BASE_TIME = datetime(2024, 5, 24, 19, 50, 18, 53000, tzinfo=UTC)


@dataclass(frozen=True)
class StreamFiles:
    """Paths of one generated stream in its two encodings."""

    records: Path
    """Singer messages with one RECORD per task."""
    batch: Path
    """Singer messages with one BATCH per JSONL file of raw records."""
    record_count: int


def _timestamp(moment: datetime) -> str:
    """Format a time as Asana does: milliseconds and a ``Z`` suffix."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _ref(kind: str, gid: int, name: str) -> dict:
    return {"gid": str(gid), "name": name, "resource_type": kind}


def make_task(index: int, rng: random.Random, version: int = 0) -> dict:
    """Build the task-like record with number ``index``; ``version`` > 0 marks a changed copy."""
    gid = 1_200_000_000_000_000 + index
    created = _BASE_TIME + timedelta(minutes=index)
    modified = created + timedelta(days=1 + version * 30)
    project = index % 20
    words = " ".join(rng.choice(_WORDS) for _ in range(6))
    name = f"Task {index}: {words}" + (f" (rev {version})" if version else "")
    completed = (index + version) % 3 == 0

    custom_fields = [
        {"gid": "300001", "name": "Priority", "resource_type": "custom_field",
         "resource_subtype": "enum", "type": "enum",
         "display_value": ("Low", "Medium", "High")[(index + version) % 3], "text_value": None,
         "number_value": None,
         "enum_value": _ref("enum_option", 310000 + (index + version) % 3, "Level")},
        {"gid": "300002", "name": "Estimate (hours)", "resource_type": "custom_field",
         "resource_subtype": "number", "type": "number",
         "display_value": str((index * 7 + version) % 40), "text_value": None,
         "number_value": float((index * 7 + version) % 40), "enum_value": None},
        {"gid": "300003", "name": "Customer", "resource_type": "custom_field",
         "resource_subtype": "text", "type": "text", "display_value": f"Customer {index % 997}",
         "text_value": f"Customer {index % 997}", "number_value": None, "enum_value": None},
    ]

    memberships = [{
        "project": _ref("project", 1_100_000 + project, f"Project {project}"),
        "section": _ref("section", 1_110_000 + project * 10 + index % 4, f"Section {index % 4}"),
    }]
    if index % 10 == 0:
        other = (project + 1) % 20
        memberships.append({
            "project": _ref("project", 1_100_000 + other, f"Project {other}"),
            "section": _ref("section", 1_110_000 + other * 10, "Section 0"),
        })

    return {
        "gid": str(gid),
        "resource_type": "task",
        "resource_subtype": "milestone" if index % 50 == 0 else "default_task",
        "name": name,
        "notes": (f"Notes for task {index}. " + words + ". ") * 4,
        "completed": completed,
        "completed_at": _timestamp(modified) if completed else None,
        "created_at": _timestamp(created),
        "modified_at": _timestamp(modified),
        "due_on": (created + timedelta(days=14)).date().isoformat(),
        "due_at": _timestamp(created + timedelta(days=14, hours=3)),
        "start_on": None if index % 4 else created.date().isoformat(),
        "num_likes": (index + version) % 5,
        "num_subtasks": index % 3,
        "liked": False,
        "assignee_status": ("inbox", "today", "upcoming", "later")[index % 4],
        "permalink_url": f"https://app.asana.com/0/{1_100_000 + project}/{gid}",
        "assignee": None if index % 9 == 0 else _ref("user", 1_000_000 + index % 50,
                                                     f"User {index % 50}"),
        "workspace": _ref("workspace", 1_000, "Benchmark Workspace"),
        "parent": None,
        "memberships": memberships,
        "tags": [_ref("tag", 1_300_000 + (index + k) % 30, f"tag-{(index + k) % 30}")
                 for k in range(index % 3)],
        "followers": [_ref("user", 1_000_000 + (index + k) % 50, f"User {(index + k) % 50}")
                      for k in range(1 + index % 3)],
        "custom_fields": custom_fields,
    }


def iter_tasks(count: int, changed_fraction: float = 0.0, seed: int = 6):
    """Yield ``count`` records; a seeded ``changed_fraction`` of them are changed copies."""
    words_rng = random.Random(seed)
    pick_rng = random.Random(seed + 1)
    for index in range(count):
        # Draw from the words generator for every record so unchanged records stay identical.
        record_rng = random.Random(words_rng.random())
        changed = changed_fraction > 0 and pick_rng.random() < changed_fraction
        yield make_task(index, record_rng, version=1 if changed else 0)


def _schema_message() -> dict:
    return {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["gid"]}


def write_stream(
    folder: Path, count: int, changed_fraction: float = 0.0, seed: int = 6
) -> StreamFiles:
    """Write the stream twice into ``folder``: as RECORD messages and as BATCH files."""
    folder.mkdir(parents=True, exist_ok=True)
    records_path = folder / "records.singer"
    batch_path = folder / "batch.singer"
    batch_dir = folder / "batch_files"
    batch_dir.mkdir(exist_ok=True)
    for old in batch_dir.glob("*.jsonl"):
        old.unlink()

    manifests: list[str] = []
    batch_out = None
    written = 0
    with records_path.open("w", encoding="utf-8") as records_out:
        records_out.write(json.dumps(_schema_message()) + "\n")
        for record in iter_tasks(count, changed_fraction, seed):
            line = json.dumps(record, separators=(",", ":"))
            records_out.write(
                '{"type":"RECORD","stream":"' + STREAM + '","record":' + line + "}\n"
            )
            if written % BATCH_FILE_RECORDS == 0:
                if batch_out:
                    batch_out.close()
                part = batch_dir / f"part-{len(manifests):05d}.jsonl"
                manifests.append(part.resolve().as_uri())
                batch_out = part.open("w", encoding="utf-8")
            assert batch_out is not None
            batch_out.write(line + "\n")
            written += 1
        if batch_out:
            batch_out.close()
        records_out.write(json.dumps({"type": "STATE", "value": {"records": written}}) + "\n")

    with batch_path.open("w", encoding="utf-8") as batch_messages:
        batch_messages.write(json.dumps(_schema_message()) + "\n")
        for uri in manifests:
            message = {"type": "BATCH", "stream": STREAM,
                       "encoding": {"format": "jsonl", "compression": "none"},
                       "manifest": [uri]}
            batch_messages.write(json.dumps(message) + "\n")
        batch_messages.write(json.dumps({"type": "STATE", "value": {"records": written}}) + "\n")
    return StreamFiles(records=records_path, batch=batch_path, record_count=written)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="number of records")
    parser.add_argument("--changed", type=float, default=0.0,
                        help="fraction of records changed against the seed's base stream")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    files = write_stream(args.out, args.records, args.changed, args.seed)
    print(f"{files.record_count} records: {files.records} and {files.batch}")


if __name__ == "__main__":
    main()
