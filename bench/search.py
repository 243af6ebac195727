#!/usr/bin/env python
"""Search benchmark: conversation search through the real REST API, beside the same SQL run directly.

    python bench/search.py            # 1,000,000 conversations, 5,000,000 messages (about 15 minutes)
    python bench/search.py --quick    # 20,000 / ~100,000: a correctness check for CI (indexes used), no timing verdicts
    python bench/search.py --reuse    # time again against the database the last full run loaded (new
                                      # migrations are applied to it first)

It creates a fresh PostgreSQL database, runs the migrations (so the product's real indexes exist),
loads realistic skewed data with COPY (bench/search_data.py), ANALYZEs, and serves the API with
uvicorn in production mode (DEBUG off). An API key made with `api_key_create` for a full-access agent
authenticates every request. Each query of the set (every seed filter alone, dates, full-text and
realistic combinations) is timed over HTTP with keep-alive for the first page, then the SQL that
Django runs for it (captured from the selector) is timed with psycopg, and its plan is checked:
an index is used and conversations are never scanned sequentially.

It uses the database `helpdesk_search_bench` (quick: `helpdesk_search_bench_quick`, so a CI check never
drops the full load; dropped and created again; BENCH_SEARCH_DATABASE), the
server at BENCH_POSTGRES (postgres://postgres@127.0.0.1:5432) and Redis at BENCH_REDIS_URL
(redis://127.0.0.1:6379/12, the API's rate-limit cache). The quick mode takes about a minute.

Results go to bench/results/search.json (quick: search_quick.json); `python bench/report.py` puts
them in the README. Exits non-zero when a plan fails the check, in every mode.
"""

import argparse
import contextlib
import datetime
import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psutil  # noqa: E402
from search_data import TAG_NAMES, Dataset  # noqa: E402
from stack import PG_URL, RESULTS, Server, fresh_database, percentiles, production_environment, setup_django  # noqa: E402

DATABASE = os.environ.get("BENCH_SEARCH_DATABASE", "helpdesk_search_bench")
if "--quick" in sys.argv:
    DATABASE += "_quick"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

QUICK = {"conversations": 20_000, "repetitions": 10, "warmup": 2}
FULL = {"conversations": 1_000_000, "repetitions": 100, "warmup": 5}
AGENTS, GROUPS = 60, 12
# The targets for p95 through the API.
FAST_MS, SLOW_MS = 15, 50
LOADED_TABLES = [
    "visitors_visitor",
    "conversations_conversation",
    "conversations_conversation_tags",
    "conversations_message",
]


def environment() -> dict:
    # The benchmark asks far faster than a client may: the rate limit is not what is measured.
    return production_environment(database=DATABASE, redis_url=REDIS_URL, API_RATE_LIMIT="1000000/min")


def connect():
    import psycopg

    return psycopg.connect(f"{PG_URL}/{DATABASE}", autocommit=True)


# --- Loading -------------------------------------------------------------------------------------


def make_people():
    """Agents (one owner, 60 with full access), groups, tags and the API key; returns what the load needs."""
    from conversations.models import Tag
    from helpdesk.models import Agent, AgentGroup
    from helpdesk.services import api_key_create

    owner = Agent.objects.create_user("owner@example.com", None, name="Bench owner", role=Agent.Role.OWNER)
    groups = AgentGroup.objects.bulk_create([AgentGroup(name=f"Team {n + 1}") for n in range(GROUPS)])
    agents = Agent.objects.bulk_create(
        [
            Agent(email=f"agent{n}@example.com", name=f"Agent {n}", role=Agent.Role.FULL, password="!")
            for n in range(AGENTS)
        ]
    )
    membership = Agent.groups.through
    membership.objects.bulk_create(
        [membership(agent_id=agent.pk, agentgroup_id=groups[n % GROUPS].pk) for n, agent in enumerate(agents)]
    )
    tags = Tag.objects.bulk_create([Tag(name=name) for name in TAG_NAMES])
    _key, secret = api_key_create(agent=agents[0], name="Search benchmark", actor=owner)
    return {
        "agent_ids": [agent.pk for agent in agents],
        "group_of_agent": {agent.pk: groups[n % GROUPS].pk for n, agent in enumerate(agents)},
        "tag_ids": [tag.pk for tag in tags],
        "key": secret,
    }


def drop_secondary(pg) -> list[str]:
    """Drops the loaded tables' indexes (all but primary keys and unique constraints) and foreign keys;
    returns the statements that create them again, exactly as the migrations made them."""
    tables = tuple(LOADED_TABLES)
    recreate = []
    for name, table, definition in pg.execute(
        "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
        [list(tables)],
    ):
        recreate.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        pg.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, definition in pg.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [list(tables)],
    ).fetchall():
        recreate.insert(0, definition)
        pg.execute(f'DROP INDEX "{name}"')
    return recreate


def copy_lines(pg, table: str, columns: str, lines):
    with pg.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) >= 20_000:
                copy.write("".join(batch))
                batch.clear()
        if batch:
            copy.write("".join(batch))


def load(config) -> dict:
    started = time.perf_counter()
    people = make_people()
    data = Dataset(config["conversations"], people["agent_ids"], people["group_of_agent"], people["tag_ids"])
    timings = {}
    with connect() as pg:
        recreate = drop_secondary(pg)
        t = time.perf_counter()
        copy_lines(pg, "visitors_visitor", Dataset.VISITOR_COLUMNS, data.visitor_rows())
        # Conversations, tag links and messages are generated together and streamed into three COPYs
        # on three connections at once, so no table's rows have to be held in memory.
        pg.execute("ALTER TABLE conversations_conversation_tags DISABLE TRIGGER USER")
        with connect() as links_pg, connect() as messages_pg:
            cursors = [pg.cursor(), links_pg.cursor(), messages_pg.cursor()]
            statements = [
                f"COPY conversations_conversation ({Dataset.CONVERSATION_COLUMNS}) FROM STDIN",
                f"COPY conversations_conversation_tags ({Dataset.TAG_LINK_COLUMNS}) FROM STDIN",
                f"COPY conversations_message ({Dataset.MESSAGE_COLUMNS}) FROM STDIN",
            ]
            stack = contextlib.ExitStack()
            writers = [stack.enter_context(c.copy(s)) for c, s in zip(cursors, statements, strict=True)]
            buffers: list[list[str]] = [[], [], []]
            for n, (conversation, links, messages) in enumerate(data.conversation_rows(), start=1):
                buffers[0].append(conversation)
                buffers[1].extend(links)
                buffers[2].extend(messages)
                if n % 10_000 == 0:
                    for writer, buffer in zip(writers, buffers, strict=True):
                        writer.write("".join(buffer))
                        buffer.clear()
                if n % 100_000 == 0:
                    print(f"  {n:,} conversations, {data.message_count:,} messages", flush=True)
            for writer, buffer in zip(writers, buffers, strict=True):
                writer.write("".join(buffer))
            stack.close()
        pg.execute("ALTER TABLE conversations_conversation_tags ENABLE TRIGGER USER")
        timings["copy_seconds"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        pg.execute("SET maintenance_work_mem = '1GB'")
        pg.execute("SET max_parallel_maintenance_workers = 2")
        for statement in recreate:
            pg.execute(statement)
        for table in LOADED_TABLES:
            pg.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        timings["index_seconds"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        for table in LOADED_TABLES:
            pg.execute(f"VACUUM ANALYZE {table}")
        timings["analyze_seconds"] = round(time.perf_counter() - t, 1)
        sizes = {table: pg.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in LOADED_TABLES}
    timings["total_seconds"] = round(time.perf_counter() - started, 1)
    return {"rows": sizes, **timings, "key": people["key"]}


# --- The query set --------------------------------------------------------------------------------


def query_set() -> list[dict]:
    """Each seed filter alone, status and channel, dates, full-text and realistic combinations, with
    values picked from the loaded data (a busy agent, a popular tag, an address that exists...)."""
    with connect() as pg:

        def one(sql, *params):
            return pg.execute(sql, params).fetchone()[0]

        agent_busy = one(
            "SELECT assignee_id FROM conversations_conversation WHERE assignee_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        agent_quiet = one(
            "SELECT assignee_id FROM conversations_conversation WHERE assignee_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) LIMIT 1"
        )
        group = one("SELECT group_id FROM conversations_conversation WHERE group_id IS NOT NULL LIMIT 1")
        tags = [
            row[0]
            for row in pg.execute(
                "SELECT tag_id FROM conversations_conversation_tags GROUP BY 1 ORDER BY count(*) DESC"
            ).fetchall()
        ]
        ip = one(
            "SELECT ip_address FROM conversations_conversation WHERE ip_address IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        network = ".".join(str(ip).split(".")[:3]) + ".0/24"
        newest = one("SELECT max(created_at) FROM conversations_conversation")
        product = one(
            "SELECT substring(page_url from '/products/[a-z-]+-[0-9]+') FROM conversations_conversation "
            "WHERE page_url LIKE '%%/products/%%' ORDER BY id DESC LIMIT 1"
        )

    def ago(days):
        return (newest - datetime.timedelta(days=days)).isoformat()

    popular, middle, rare = tags[0], tags[len(tags) // 2], tags[-1]
    fast, slow = FAST_MS, SLOW_MS
    return [
        {"name": "no filter (newest first)", "params": [], "target_ms": fast},
        {"name": "rating exact (1)", "params": [("rating", 1)], "target_ms": fast},
        {"name": "rating range (4-5)", "params": [("rating_min", 4), ("rating_max", 5)], "target_ms": fast},
        {"name": "agent (busiest)", "params": [("agent", agent_busy)], "target_ms": fast},
        {"name": "agent (quietest)", "params": [("agent", agent_quiet)], "target_ms": fast},
        {"name": "group", "params": [("group", group)], "target_ms": fast},
        {"name": "tag (popular)", "params": [("tag", popular)], "target_ms": slow},
        {"name": "tag (rare)", "params": [("tag", rare)], "target_ms": slow},
        {"name": "tags any of 3", "params": [("tag", popular), ("tag", middle), ("tag", rare)], "target_ms": slow},
        {
            "name": "tags all of 2",
            "params": [("tag", popular), ("tag", middle), ("tag_match", "all")],
            "target_ms": slow,
        },
        {"name": "url contains (common: checkout)", "params": [("url", "checkout")], "target_ms": slow},
        # Rare values must be found through their own index, at any size.
        {
            "name": "url contains (one product)",
            "params": [("url", product)],
            "target_ms": slow,
            "index": "conv_page_url_trgm_idx",
        },
        {"name": "ip exact", "params": [("ip", ip)], "target_ms": fast, "index": "conv_ip_idx"},
        {"name": "ip CIDR /24", "params": [("ip", network)], "target_ms": fast},
        {
            "name": "status + channel (open email)",
            "params": [("status", "open"), ("channel", "email")],
            "target_ms": fast,
        },
        {
            "name": "created date range (one week, a year ago)",
            "params": [("created_after", ago(372)), ("created_before", ago(365))],
            "target_ms": fast,
        },
        {
            "name": "resolved date range (last 30 days)",
            "params": [("resolved_after", ago(30)), ("resolved_before", ago(0))],
            "target_ms": fast,
        },
        {"name": "full-text (common: refund)", "params": [("q", "refund")], "target_ms": slow},
        {
            "name": "full-text (rare: chargeback)",
            "params": [("q", "chargeback")],
            "target_ms": slow,
            "index": "message_body_fts_idx",
        },
        {
            "name": "combo: agent + rating 1-2 + last 90 days",
            "params": [("agent", agent_busy), ("rating_max", 2), ("created_after", ago(90))],
            "target_ms": slow,
        },
        {
            "name": "combo: group + tag + resolved",
            "params": [("group", group), ("tag", popular), ("status", "resolved")],
            "target_ms": slow,
        },
        {
            "name": "combo: url + ip CIDR",
            "params": [("url", "checkout"), ("ip", network)],
            "target_ms": slow,
        },
        {
            "name": "combo: full-text + rating 1 + last year",
            "params": [("q", "refund"), ("rating", 1), ("created_after", ago(365))],
            "target_ms": slow,
        },
    ]


# --- SQL and plans --------------------------------------------------------------------------------


def captured_sql(params) -> list[str]:
    """The SQL statements the API's selector and paginator run for the first page (not authentication)."""
    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext

    from conversations.api import as_rows
    from conversations.selectors import conversation_search, people_of_conversations, tags_of_conversations
    from helpdesk.models import ApiKey
    from helpdesk.rest import NewestFirstPagination

    agent = ApiKey.objects.select_related("agent").get(name="Search benchmark").agent
    query = QueryDict(mutable=True)
    for name, value in params:
        query.appendlist(name, str(value))
    size = NewestFirstPagination.page_size
    with CaptureQueriesContext(connection) as captured:
        # As the API reads a page: its rows (one more than a page, to know whether there is a next one),
        # then their people and tags.
        rows = as_rows(conversation_search(agent=agent, params=query))
        rows = list(rows.order_by(*NewestFirstPagination.ordering)[: size + 1])
        people_of_conversations(rows[:size])
        tags_of_conversations([row["id"] for row in rows[:size]])
    return [entry["sql"] for entry in captured.captured_queries]


# The search itself, as opposed to the filters' checks of the ids they were given and the tags' prefetch.
MAIN_QUERY = 'SELECT "conversations_conversation"."id"'


def plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def verdict(pg, sql: str, full_text: bool, strict: bool) -> dict:
    """Whether the plan uses an index and scans no conversations (nor, for full-text, messages) in order.
    (A query for a rare value must moreover use that value's own index: see query_set.)

    At full size the planner's own choice is judged. At the quick mode's small size a sequential scan
    can truly be cheaper, so there sequential scans are discouraged first: the check then proves an index
    *can* serve the query (its expression matches the index), which is what a migration or filter change
    could break."""
    if not strict:
        pg.execute("SET enable_seqscan = off")
    try:
        plan = pg.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()[0][0]["Plan"]
    finally:
        pg.execute("RESET enable_seqscan")
    nodes = list(plan_nodes(plan))
    indexes = sorted({node["Index Name"] for node in nodes if "Index Name" in node})
    scanned = sorted({node["Relation Name"] for node in nodes if node["Node Type"] == "Seq Scan"})
    forbidden = {"conversations_conversation"} | ({"conversations_message"} if full_text else set())
    ok = bool(indexes) and not (forbidden & set(scanned))
    return {"ok": ok, "indexes": indexes, "seq_scans": scanned}


def time_sql(pg, statements: list[str], config) -> dict:
    for _ in range(config["warmup"]):
        for sql in statements:
            pg.execute(sql).fetchall()
    samples = []
    for _ in range(config["repetitions"]):
        t = time.perf_counter()
        for sql in statements:
            pg.execute(sql).fetchall()
        samples.append(time.perf_counter() - t)
    return percentiles(samples, quantiles=(0.50, 0.95))


def time_api(client, server, params, config) -> tuple[dict, int, float]:
    """Wall-clock percentiles, the rows of the first page, and the server's CPU time per request (which
    other processes competing for the cores barely change, unlike the wall clock)."""
    for _ in range(config["warmup"]):
        response = client.get("/api/v1/conversations/", params=params)
        response.raise_for_status()
    samples = []
    cpu_before = server.cpu()
    for _ in range(config["repetitions"]):
        t = time.perf_counter()
        response = client.get("/api/v1/conversations/", params=params)
        samples.append(time.perf_counter() - t)
        response.raise_for_status()
    cpu_ms = round((server.cpu() - cpu_before) / config["repetitions"] * 1000, 2)
    return percentiles(samples, quantiles=(0.50, 0.95)), len(response.json()["results"]), cpu_ms


# --- The server -----------------------------------------------------------------------------------


def run_queries(config, key: str) -> list[dict]:
    import httpx

    queries = query_set()
    server = Server("helpdesk.asgi:application", environment())
    results = []
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client, connect() as pg:
            print(f"\n{'query':<44} {'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'ratio':>6} "
                  f"{'cpu':>6} {'rows':>5} {'target':>7}  plan")  # fmt: skip
            for query in queries:
                statements = captured_sql(query["params"])
                full_text = any(name == "q" for name, _value in query["params"])
                main_sql = next(sql for sql in statements if sql.startswith(MAIN_QUERY))
                plan = verdict(pg, main_sql, full_text, strict=config is FULL)
                if query.get("index") and query["index"] not in plan["indexes"]:
                    plan["ok"] = False
                api, rows, server_cpu_ms = time_api(client, server, query["params"], config)
                sql = time_sql(pg, statements, config)
                result = {
                    "name": query["name"],
                    "params": [[name, str(value)] for name, value in query["params"]],
                    "rows": rows,
                    "api_ms": api,
                    "sql_ms": sql,
                    "api_sql_ratio": round(api["p50"] / sql["p50"], 1) if sql["p50"] else None,
                    "server_cpu_ms_per_request": server_cpu_ms,
                    "target_p95_ms": query["target_ms"],
                    "met": api["p95"] <= query["target_ms"],
                    "plan": plan,
                    "sql": main_sql,
                }
                results.append(result)
                print(
                    f"{query['name'][:44]:<44} {api['p50']:>8} {api['p95']:>8} {sql['p50']:>8} {sql['p95']:>8} "
                    f"{result['api_sql_ratio']:>6} {server_cpu_ms:>6} {rows:>5} {query['target_ms']:>5}"
                    f"{' ok' if result['met'] else ' !!'}"
                    f"  {'index' if plan['ok'] else 'FAIL'} ({', '.join(plan['indexes'])}"
                    f"{'; seq: ' + ', '.join(plan['seq_scans']) if plan['seq_scans'] else ''})",
                    flush=True,
                )
    finally:
        server.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes; a correctness check (indexes used) for CI")
    parser.add_argument("--reuse", action="store_true", help="do not load again: time the existing database")
    args = parser.parse_args()
    # Stopped from outside, still stop the server (the finally clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    config = QUICK if args.quick else FULL
    name = "search_quick.json" if args.quick else "search.json"
    RESULTS.mkdir(parents=True, exist_ok=True)

    if args.reuse:
        # Migrations added since the load (a new index, a statistics target) are applied to the loaded
        # database, and its statistics gathered again under them.
        setup_django(environment(), migrate=True)
        with connect() as pg:
            for table in LOADED_TABLES:
                pg.execute(f"ANALYZE {table}")
        from helpdesk.models import ApiKey
        from helpdesk.services import api_key_create

        # A key's secret is shown once only: a rerun makes a new key for the same agent.
        old = ApiKey.objects.select_related("agent").get(name="Search benchmark")
        owner = type(old.agent).objects.get(email="owner@example.com")
        old.delete()
        _key, secret = api_key_create(agent=old.agent, name="Search benchmark", actor=owner)
        previous = json.loads((RESULTS / name).read_text()) if (RESULTS / name).exists() else {}
        loaded = previous.get("load", {}) | {"key": secret}
    else:
        print(
            f"Search ({'quick' if args.quick else 'full'}): loading {config['conversations']:,} conversations",
            flush=True,
        )
        fresh_database(DATABASE)
        setup_django(environment(), migrate=True)
        loaded = load(config)
        print(f"  loaded {loaded['rows']} in {loaded['total_seconds']} s", flush=True)

    key = loaded.pop("key")
    queries = run_queries(config, key)
    fast = [q for q in queries if q["target_p95_ms"] == FAST_MS]
    slow = [q for q in queries if q["target_p95_ms"] == SLOW_MS]
    result = {
        "mode": "quick" if args.quick else "full",
        "machine": {
            "cores": psutil.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "load": loaded,
        "repetitions": config["repetitions"],
        "queries": queries,
        "summary": {
            "conversations": loaded["rows"]["conversations_conversation"],
            "messages": loaded["rows"]["conversations_message"],
            "worst_fast_p95_ms": max(q["api_ms"]["p95"] for q in fast),
            "worst_slow_p95_ms": max(q["api_ms"]["p95"] for q in slow),
            "targets_missed": [q["name"] for q in queries if not q["met"]],
            "plans_failed": [q["name"] for q in queries if not q["plan"]["ok"]],
            "median_server_cpu_ms_per_request": sorted(q["server_cpu_ms_per_request"] for q in queries)[
                len(queries) // 2
            ],
            "median_api_sql_ratio": sorted(q["api_sql_ratio"] for q in queries)[len(queries) // 2],
        },
    }
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))
    if result["summary"]["plans_failed"]:
        print(f"FAILED: no index, or a sequential scan: {result['summary']['plans_failed']}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
