#!/usr/bin/env python
"""Regenerates the README's "Benchmarks" table from the result files that exist.

    python bench/report.py

Reads bench/results/search.json and bench/results/chat_load.json (the full runs; quick runs are CI
checks, not figures) and rewrites what lies between `<!-- bench:start -->` and `<!-- bench:end -->`
in README.md: each headline figure beside the issue's target, and whether it was met.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# The chat load figures and their targets: (summary key, what it is, unit, target, "max" or "min").
# A target of None is reported without a verdict.
# Issue 10's targets for this 2-core machine.
CHAT_LOAD = [
    ("lost", "messages lost (load and reconnect storm)", "", 0, "max"),
    ("doubled", "messages delivered twice", "", 0, "max"),
    ("refused", "messages refused with an error frame (the load keeps within the rate limit)", "", 0, "max"),
    ("sustained_per_second", "messages per second sustained (nothing lost or refused, p99 ≤ 1 s)", "/s", 1000, "min"),
    ("ratio_to_baseline", "sustained rate as a share of a bare Channels baseline", "", 0.6, "min"),
    ("visitor_to_agent_p99_ms_at_500", "visitor→agent latency p99 at 500 messages/s", " ms", 10, "max"),
    ("kb_per_idle_socket", "memory per idle visitor socket (10,000 held by one process)", " KB", 40, "max"),
    ("pongs_missing", "pings of the 10,000 idle chat boxes left unanswered", "", 0, "max"),
    ("idle_cores", "server CPU to keep the 10,000 idle chat boxes (a ping every 20 s each), in cores", "", None, "max"),
    ("idle_pong_p99_ms", "ping→pong p99 while holding them", " ms", None, "max"),
    (
        "chat_box_gzip_kb",
        "chat box script and styles on the visitor's page (gzip, without recordings)",
        " KB",
        40,
        "max",
    ),
    ("cpu_per_message_ms", "server CPU per message at the rates sustained (both processes)", " ms", None, "max"),
    ("baseline_cpu_per_message_ms", "server CPU per message, bare Channels baseline", " ms", None, "max"),
]


def verdict(value, target, direction) -> str:
    if target is None or value is None:
        return "–"
    met = value <= target if direction == "max" else value >= target
    return "met" if met else "**missed**"


def fmt(value, unit="") -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def search_rows(result: dict) -> list[str]:
    summary = result["summary"]
    machine = result["machine"]
    rows = [
        f"**Search** ({fmt(summary['conversations'])} conversations, {fmt(summary['messages'])} messages; "
        f"{result['repetitions']} requests per query over HTTP with an API key; "
        f"{machine['cores']} cores, load average {machine.get('load_average_1m', '–')} at the end)",
        "",
        "| query | API p50 | API p95 | SQL p50 | API/SQL | server CPU per request | target (API p95) | met | plan |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for query in result["queries"]:
        plan = query["plan"]
        plan_text = "index" if plan["ok"] else "**sequential scan**"
        rows.append(
            f"| {query['name']} | {fmt(query['api_ms']['p50'], ' ms')} | {fmt(query['api_ms']['p95'], ' ms')} "
            f"| {fmt(query['sql_ms']['p50'], ' ms')} | {fmt(query['api_sql_ratio'])} "
            f"| {fmt(query.get('server_cpu_ms_per_request'), ' ms')} "
            f"| ≤ {query['target_p95_ms']} ms | {'met' if query['met'] else '**missed**'} | {plan_text} |"
        )
    rows += [
        "",
        f"Targets met: {sum(q['met'] for q in result['queries'])} of {len(result['queries'])}; "
        f"plans using an index without scanning conversations: "
        f"{sum(q['plan']['ok'] for q in result['queries'])} of {len(result['queries'])}.",
    ]
    return rows


def chat_load_rows(result: dict) -> list[str]:
    summary = result["summary"]
    machine = result["machine"]
    rows = [
        f"**Chat load** (helpdesk: two uvicorn processes in production mode on PostgreSQL and Redis, "
        f"visitors on one and agents on the other; baseline: a bare Channels group broadcast on the same "
        f"layer; {machine['cores']} cores, load average {machine.get('load_average_1m', '–')} at the end)",
        "",
        "| figure | result | target | met |",
        "|---|---:|---:|---|",
    ]
    last_step = result["helpdesk"]["steps"][-1]["rate"]  # the steps stop at the first one not sustained
    for key, label, unit, target, direction in CHAT_LOAD:
        value = summary.get(key)
        bound = "–" if target is None else f"{'≤' if direction == 'max' else '≥'} {fmt(target, unit)}"
        if key == "visitor_to_agent_p99_ms_at_500" and value is None and last_step < 500:
            rows.append(f"| {label} | not reached ({fmt(last_step)}/s was not sustained) | {bound} | **missed** |")
            continue
        rows.append(f"| {label} | {fmt(value, unit)} | {bound} | {verdict(value, target, direction)} |")
    rows += [
        "",
        "| load step | sent | lost | refused | doubled "
        "| visitor→agent p50 / p95 / p99 | agent→visitor p50 / p95 / p99 "
        "| cores busy: servers (visitors' + agents') / PostgreSQL / Redis / load generator / whole machine |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    steps = [("helpdesk", step) for step in result["helpdesk"]["steps"]]
    steps.append(("helpdesk, reconnect storm", result["helpdesk"]["storm"]))
    steps += [("baseline", step) for step in result["baseline"]["steps"]]
    for name, step in steps:
        rows.append(
            f"| {name} {fmt(step['rate'])}/s | {fmt(step['sent'])} | {fmt(step['lost'])} "
            f"| {fmt(step.get('refused'))} | {fmt(step['doubled'])} "
            f"| {latency(step['visitor_to_agent_ms'])} | {latency(step['agent_to_visitor_ms'])} "
            f"| {busy_cores(step.get('cores'))} |"
        )
    return rows


def busy_cores(cores: dict | None) -> str:
    if not cores:
        return "–"
    servers = fmt(cores["servers"])
    if cores.get("per_server"):
        servers += f" ({' + '.join(fmt(each) for each in cores['per_server'])})"
    return " / ".join([servers, *(fmt(cores[part]) for part in ("postgresql", "redis", "generator", "machine"))])


def latency(ms: dict) -> str:
    return " / ".join(fmt(ms[key]) for key in ("p50", "p95", "p99")) + " ms"


def table() -> str:
    parts = []
    for name, render in (("chat_load.json", chat_load_rows), ("search.json", search_rows)):
        path = RESULTS / name
        if path.exists():
            parts.append("\n".join(render(json.loads(path.read_text()))))
    if not parts:
        return "No benchmark has been run yet."
    return "\n\n".join(parts)


def main():
    text = README.read_text()
    if START not in text or END not in text:
        sys.exit(f"README.md has no {START} … {END} markers")
    before, rest = text.split(START, 1)
    _old, after = rest.split(END, 1)
    README.write_text(f"{before}{START}\n{table()}\n{END}{after}")
    used = [name for name in ("chat_load.json", "search.json") if (RESULTS / name).exists()]
    print(f"README.md: Benchmarks table regenerated from {', '.join(used) or 'no result file'}")


if __name__ == "__main__":
    main()
