"""Generate ``docs/benchmarks.md`` from the raw results in ``benchmarks/results/``.

    python -m benchmarks.report
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.harness import REPO, RESULTS_DIR

DOC = REPO / "docs" / "benchmarks.md"
# Hand-written findings (profiles, causes), copied into the page after the generated sections.
NOTES = REPO / "benchmarks" / "notes.md"

# Order of sections in the page; results whose names match none go last.
SECTIONS = [
    ("target-fresh", "Target load: fresh file"),
    ("target-merge", "Target load: merge of a changed stream"),
    ("tap-tasks", "Tap extraction: tasks"),
    ("e2e-tasks", "End to end: tasks"),
    ("e2e-stories", "End to end: stories"),
    ("e2e-incremental", "Incremental: a second tasks run after some tasks changed"),
    ("scale", "Scale: our target at growing record counts"),
]

UNITS = {
    "wall_s": ("wall time", "{:.2f} s"),
    "rows_per_s": ("rows/s", "{:,.0f}"),
    "peak_rss_bytes": ("peak RSS (process tree)", None),
    "rows": ("rows in the table", "{:,.0f}"),
    "distinct_gids": ("distinct gids", "{:,.0f}"),
    "changed_rows": ("rows showing the change", "{:,.0f}"),
    "requests": ("requests (server count)", "{:,.0f}"),
    "records": ("RECORD messages", "{:,.0f}"),
    "rate_limit_floor_s": ("rate-limit floor (estimate)", "{:.2f} s"),
    "latency_floor_s": ("latency floor (estimate)", "{:.2f} s"),
    "first_run_wall_s": ("first run wall time", "{:.2f} s"),
    "first_run_requests": ("first run requests", "{:,.0f}"),
    "changed_tasks": ("tasks changed on the server", "{:,.0f}"),
}


def _format(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric == "peak_rss_bytes":
        return f"{value / 2**20:,.0f} MiB"
    pattern = UNITS.get(metric, (metric, "{}"))[1] or "{}"
    return pattern.format(value)


def _ratio(ratios: dict, contender: str, metric: str) -> float | None:
    return ratios.get(contender, {}).get(metric)


def _targets(payload: dict) -> list[str]:
    """Compare a result with the project's speed and memory targets, one line per target."""
    name = payload["benchmark"]
    medians, ratios, base = payload["medians"], payload["ratios_vs_baseline"], payload["baseline"]
    lines = []

    def check(label: str, value: float | None, goal: float) -> None:
        if value is None:
            lines.append(f"- {label}: no figure")
            return
        verdict = "reached" if value >= goal else "NOT reached"
        lines.append(f"- {label}: {value:.2f}x against a goal of {goal:g}x, {verdict}")

    if name in ("target-fresh", "target-merge"):
        check("ours RECORD rows/s against the anchor", _ratio(ratios, "ours RECORD",
                                                              "rows_per_s"), 4)
        check("ours BATCH rows/s against the anchor", _ratio(ratios, "ours BATCH",
                                                             "rows_per_s"), 8)
        for side in ("ours RECORD", "ours BATCH"):
            check(f"{side} peak RSS, anchor's divided by ours",
                  _ratio(ratios, side, "peak_rss_bytes"), 3)
        expected = payload["params"].get("records")
        for contender, figures in medians.items():
            if expected and figures.get("rows") != expected:
                lines.append(f"- {contender}: {figures.get('rows'):,.0f} rows in the table for "
                             f"{expected:,} distinct records")
    elif name == "tap-tasks":
        check("ours wall time, anchor's divided by ours", _ratio(ratios, "ours", "wall_s"), 4)
        ours, theirs = medians.get("ours", {}), medians.get(base, {})
        if ours.get("requests") is not None and theirs.get("requests") is not None:
            fewer = ours["requests"] <= theirs["requests"]
            lines.append(f"- requests: ours {ours['requests']:,.0f}, anchor "
                         f"{theirs['requests']:,.0f}, "
                         f"{'reached' if fewer else 'NOT reached'} (no more than the anchor)")
        _floor_line(lines, "ours", ours)
        for contender, figures in medians.items():
            if figures.get("records") != figures.get("distinct_gids"):
                lines.append(f"- {contender} emitted {figures.get('records'):,.0f} records for "
                             f"{figures.get('distinct_gids'):,.0f} distinct gids")
    elif name.startswith("e2e-") and name != "e2e-incremental":
        goal = 3 if name == "e2e-tasks" else 1
        check("omniload wall time, ingestr's divided by ours",
              _ratio(ratios, "omniload", "wall_s"), goal)
        _floor_line(lines, "omniload", medians.get("omniload", {}))
        for contender, figures in medians.items():
            if figures.get("rows") != figures.get("distinct_gids"):
                lines.append(f"- {contender}: {figures.get('rows'):,.0f} rows for "
                             f"{figures.get('distinct_gids'):,.0f} distinct gids")
    elif name == "e2e-incremental":
        projects = payload["params"].get("workspace_projects")
        for contender, figures in medians.items():
            lines.append(
                f"- {contender}: second run made {figures.get('requests', 0):,.0f} requests "
                f"in {figures.get('wall_s', 0):.2f} s, first run "
                f"{figures.get('first_run_requests', 0):,.0f} requests in "
                f"{figures.get('first_run_wall_s', 0):.2f} s "
                f"({projects} projects, {figures.get('changed_tasks', 0):,.0f} tasks changed; "
                f"one projects listing plus one page per project would be {projects + 1})")
    return lines


def _floor_line(lines: list[str], contender: str, figures: dict) -> None:
    """Compare wall time with the larger of the rate-limit and latency floors."""
    floors = [figures.get("rate_limit_floor_s") or 0, figures.get("latency_floor_s") or 0]
    floor, wall = max(floors), figures.get("wall_s")
    if floor and wall:
        within = wall <= floor * 1.10
        lines.append(f"- {contender} wall time {wall:.2f} s against a floor of {floor:.2f} s "
                     f"(the larger of the rate-limit and latency floors): "
                     f"{'within' if within else 'NOT within'} 10%")


def _section(payload: dict) -> list[str]:
    contenders = list(payload["medians"])
    ratio_names = list(payload["ratios_vs_baseline"])
    load = payload["environment"].get("load_average_1m_at_end")
    lines = [f"Command: `{payload['command']}`  ", f"Finished {payload['finished_at']}, "
             f"{payload['rounds']} alternating rounds, 1-minute load average at the end "
             f"{load} on {payload['environment']['nproc']} cores, parameters: "
             + ", ".join(f"{k}={v}" for k, v in payload["params"].items()) + ".", ""]
    lines.append("Contenders:")
    lines.append("")
    for name, pipeline in payload["contenders"].items():
        lines.append(f"- **{name}**: `{pipeline}`")
    lines.append("")
    header = ["median", *contenders, *[f"{n} / {payload['baseline']}" for n in ratio_names]]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for metric in payload["metrics"]:
        label = UNITS.get(metric, (metric, None))[0]
        cells = [label] + [_format(metric, payload["medians"][c].get(metric)) for c in contenders]
        for name in ratio_names:
            value = payload["ratios_vs_baseline"][name].get(metric)
            cells.append(f"{value:.2f}x" if value is not None else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    targets = _targets(payload)
    if targets:
        lines.append("Against the targets:")
        lines.append("")
        lines.extend(targets)
        lines.append("")
    return lines


def _scale_summary(payloads: list[dict]) -> list[str]:
    """Tabulate seconds and peak RSS per record count, so growth shows at a glance."""
    ordered = sorted(payloads, key=lambda p: p["params"]["records"])
    contenders = list(ordered[0]["medians"])
    header = ["records", *[f"{c} {what}" for c in contenders
                           for what in ("seconds", "rows/s", "peak RSS")]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for payload in ordered:
        cells = [f"{payload['params']['records']:,}"]
        for contender in contenders:
            figures = payload["medians"].get(contender, {})
            cells += [_format("wall_s", figures.get("wall_s")),
                      _format("rows_per_s", figures.get("rows_per_s")),
                      _format("peak_rss_bytes", figures.get("peak_rss_bytes"))]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _environment(payloads: list[dict]) -> list[str]:
    env = payloads[-1]["environment"]
    anchors = ", ".join(f"{k} {v}" for k, v in env["anchors"].items())
    ours = ", ".join(f"{k} {v}" for k, v in env["ours"].items())
    return [
        f"- Machine: {env['nproc']} cores ({env['cpu_model']}), {env['memory_gib']} GiB memory, "
        f"{env['platform']}.",
        f"- Python {env['python']}, duckdb {env['duckdb']}, singer-sdk {env['singer-sdk']}.",
        f"- Ours: {ours}. Anchors, each in its own virtualenv from PyPI: {anchors}.",
    ]


def render(results_dir: Path = RESULTS_DIR, notes: Path = NOTES) -> str:
    payloads = [json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks.report` from benchmarks/results/*.json. -->",
        "",
        "Each comparison runs its contenders alternately (A, B, A, B, ...) in one invocation and "
        "reports medians; ratios come only from runs of the same invocation. Peak RSS is the "
        "largest sum of resident memory over each run's whole process tree, sampled every 20 ms "
        "with psutil. The anchors are installed from PyPI by the benchmarks themselves into "
        "`benchmarks/.venvs/`.",
        "",
        "The machine is shared with other work, and each section gives the load average at its "
        "end, so absolute times are noisy; the ratios between contenders of one invocation are "
        "the figures to compare.",
        "",
    ]
    if not payloads:
        lines += ["No results yet: run the commands below, then `python -m benchmarks.report`.",
                  ""]
        return "\n".join(lines)
    lines += ["## Machine and versions", "", *_environment(payloads), ""]
    lines += [
        "## How to run",
        "",
        "```",
        "python -m benchmarks.target --records 100000 --rounds 3",
        "python -m benchmarks.tap --projects 20 --tasks-per-project 1000 --rounds 3",
        "python -m benchmarks.e2e tasks --projects 20 --tasks-per-project 1000 --rounds 3",
        "python -m benchmarks.e2e stories --projects 20 --tasks-per-project 100 --rounds 3",
        ("python -m benchmarks.e2e incremental --projects 20 --tasks-per-project 1000 --rounds 3 "
         "--without-anchor"),
        "python -m benchmarks.scale --sizes 10000 100000 1000000 --rounds 3",
        "python -m benchmarks.report",
        "```",
        "",
        "Run them from the repository root with the project's virtualenv "
        "(`.venv/bin/python`). The local Asana server runs inside the benchmark process on "
        "127.0.0.1; the anchors' launchers in `benchmarks/launchers/` refuse any connection "
        "to another address.",
        "",
    ]
    for prefix, title in SECTIONS:
        matching = [p for p in payloads if p["benchmark"].startswith(prefix)]
        if not matching:
            continue
        lines += [f"## {title}", ""]
        if prefix == "scale":
            lines += _scale_summary(matching)
        for payload in matching:
            if len(matching) > 1:
                lines += [f"### {payload['benchmark']}", ""]
            lines += _section(payload)
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    args.out.write_text(render(args.results_dir), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
