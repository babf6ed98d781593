"""How fast "have we seen this before?" is answered at 100,000 incidents.

    .venv/bin/python bench/similar_latency.py [--database-url postgres://…/seams_bench_100k]

Queries: 150 generated reviews (title and ~3 KB summary, as an author's draft would send) and
50 short free-text bot questions, from the generator with a seed of their own (so they are
new text, not stored incidents), in a fixed shuffled order.

1. In-process: exactly what `SimilarView.post` calls — `suggest_patterns(text, limit=5)` then
   `similar_to(text, visible=Incident.objects.visible_to(user), query_patterns=…, limit=5)` —
   for a plain user (no groups, so restricted incidents are hidden, as for a bot), timed with
   its query count and the time spent in SQL.
2. Over HTTP: gunicorn with 2 workers serves Seams (`config.wsgi`, DEBUG=0) and, on another
   port, the floor (`bench/floor_wsgi.py`: the same SQL through psycopg, no framework). A
   second process (`--client`, http.client on keep-alive connections) POSTs every query to
   `/api/v1/similar/` with a read token, first one at a time (latency), then from 4
   concurrent connections (throughput; skipped when one-at-a-time answers already take more
   than 5 s). The floor is also asked on `/sql-only/` (its SQL, no ranking). Each process
   first gets cheap warm-up requests (words that match nothing) that are not counted.

A measurement stops after `--budget` seconds (default 600) even if not every query was
asked; the table says how many were.

Prints a Markdown table and writes bench/results/similar-latency-<db>.json. Aim (issues 5
and 7): p99 ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from common import (
    BENCH,
    ROOT,
    QueryCounter,
    database_name,
    database_url,
    django_env,
    machine,
    percentile,
    postgres_info,
    save_result,
    setup_django,
)

LARGE = "postgres://postgres@127.0.0.1:5432/seams_bench_100k"
# Warm-up requests load each process's caches (catalogue phrases, connections, imports) with
# text whose words match nothing, so they cost little whatever the archive size.
WARMUP_TEXT = "Warm-up request: qzxv wqpz zzyq."
# Concurrent runs are skipped when one-at-a-time answers are already slower than this: more
# connections would only queue behind them.
SKIP_CONCURRENT_ABOVE_MS = 5000
SEED = 4242
BOT_USER = "bench-bot"
TOKEN_NAME = "bench"


def build_queries(summaries: int, questions: int, seed: int) -> list[dict]:
    from generate import Generator

    gen = Generator(seed)
    out = []
    for _ in range(summaries):
        spec = gen.incident()
        out.append({"kind": "summary", "text": f"{spec['title']}\n\n{spec['summary']}"})
    out += [{"kind": "question", "text": gen.question()} for _ in range(questions)]
    random.Random(seed).shuffle(out)
    return out


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


# --- in-process ------------------------------------------------------------------------------


def in_process(queries: list[dict], *, warmup: int, budget: float, show_sql: bool) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from similarity.questions import similar_to_text

    user = get_user_model().objects.get(username=BOT_USER)
    counter = QueryCounter(keep_sql=show_sql)
    rows = []

    def ask(text: str) -> int:
        return len(similar_to_text(user=user, text=text, limit=5).results)

    for _ in range(warmup):
        ask(WARMUP_TEXT)
    slowest: list[tuple[float, str, list]] = []
    started = time.perf_counter()
    for q in queries:
        if time.perf_counter() - started > budget:
            break
        counter.reset()
        with connection.execute_wrapper(counter):
            t0 = time.perf_counter()
            found = ask(q["text"])
            elapsed = (time.perf_counter() - t0) * 1000
        rows.append(
            {
                "kind": q["kind"],
                "ms": elapsed,
                "queries": counter.count,
                "sql_ms": counter.seconds * 1000,
                "found": found,
            }
        )
        if show_sql:
            slowest.append((elapsed, q["kind"], sorted(counter.sql, reverse=True)[:3]))
    out = {
        "all": stats([r["ms"] for r in rows]),
        "summary": stats([r["ms"] for r in rows if r["kind"] == "summary"]),
        "question": stats([r["ms"] for r in rows if r["kind"] == "question"]),
        "sql_ms": stats([r["sql_ms"] for r in rows]),
        "queries_median": statistics.median(r["queries"] for r in rows) if rows else None,
        "empty_answers": sum(1 for r in rows if not r["found"]),
        "asked": len(rows),
        "of": len(queries),
    }
    if show_sql:
        slowest.sort(key=lambda s: -s[0])
        out["slowest"] = [
            {
                "ms": round(ms, 1),
                "kind": kind,
                "top_sql": [{"ms": round(t * 1000, 1), "sql": sql[:600]} for t, sql in top],
            }
            for ms, kind, top in slowest[:3]
        ]
    return out


# --- over HTTP ---------------------------------------------------------------------------------


def make_token(url: str) -> str:
    """A read token for the bench user (a plain user: restricted incidents stay hidden)."""
    from django.contrib.auth import get_user_model

    from incidents.models import ApiToken

    user, _ = get_user_model().objects.get_or_create(username=BOT_USER)
    ApiToken.objects.filter(user=user, name=TOKEN_NAME).delete()
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_api_token",
            TOKEN_NAME,
            "--scope",
            "read",
            "--user",
            BOT_USER,
        ],
        cwd=ROOT,
        env=django_env(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


class Server:
    """gunicorn with 2 workers on a loopback port, stopped (by its own pid) on exit."""

    def __init__(self, app: str, port: int, url: str, *, chdir: Path | None = None) -> None:
        self.port = port
        env = django_env(
            url, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="127.0.0.1"
        )
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            app,
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
        ]
        if chdir:
            command += ["--chdir", str(chdir)]
        # Lives as long as the server; closed (and removed) in stop().
        self.log = tempfile.NamedTemporaryFile(prefix="seams-bench-gunicorn-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def client(
    url: str, token: str, queries: list[dict], *, concurrency: int, warmup: int, budget: float
) -> dict:
    """The load generator (run in its own process): POST each query, time each answer."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    bodies = [(q["kind"], json.dumps({"text": q["text"], "limit": 5}).encode()) for q in queries]
    lock = threading.Lock()
    results: list[tuple[str, float, int]] = []
    position = iter(range(len(bodies)))
    deadline = time.perf_counter() + budget

    def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, float]:
        t0 = time.perf_counter()
        conn.request("POST", parts.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status == 200:
            json.loads(data)
        return response.status, elapsed

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=180)

    # Warm-up: enough requests that every worker has loaded its caches.
    conn = connect()
    warm = json.dumps({"text": WARMUP_TEXT, "limit": 5}).encode()
    for _ in range(warmup):
        post(conn, warm)
    conn.close()

    def worker() -> None:
        conn = connect()
        while time.perf_counter() < deadline:
            with lock:
                i = next(position, None)
            if i is None:
                break
            kind, body = bodies[i]
            try:
                status, elapsed = post(conn, body)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = connect()
                status, elapsed = 0, float("nan")
            with lock:
                results.append((kind, elapsed, status))
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ok = [(k, ms) for k, ms, status in results if status == 200]
    return {
        "concurrency": concurrency,
        "all": stats([ms for _, ms in ok]),
        "summary": stats([ms for k, ms in ok if k == "summary"]),
        "question": stats([ms for k, ms in ok if k == "question"]),
        "errors": sum(1 for _, _, status in results if status != 200),
        "statuses": sorted({status for _, _, status in results}),
        "throughput_rps": len(ok) / wall if wall else None,
        "asked": len(results),
        "of": len(bodies),
    }


def run_client(
    url: str, token: str, queries_file: Path, *, concurrency: int, warmup: int, budget: float
) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--client",
            url,
            "--token",
            token,
            "--queries",
            str(queries_file),
            "--concurrency",
            str(concurrency),
            "--warmup",
            str(warmup),
            "--budget",
            str(budget),
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout)


def over_http(
    url: str,
    token: str,
    queries: list[dict],
    *,
    port: int,
    warmup: int,
    budget: float,
    concurrency: list[int],
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(queries, fh)
        queries_file = Path(fh.name)
    targets = {
        "seams": ("config.wsgi", port, None, "/api/v1/similar/"),
        "floor": ("floor_wsgi:application", port + 1, BENCH, "/api/v1/similar/"),
    }
    servers = {}
    out: dict = {}
    try:
        for name, (app, p, chdir, _) in targets.items():
            servers[name] = Server(app, p, url, chdir=chdir)
        for server in servers.values():
            server.wait_ready()
        plan = []
        for c in concurrency:
            plan += [("seams", "/api/v1/similar/", c), ("floor", "/api/v1/similar/", c)]
            if c == concurrency[0]:
                plan.append(("floor", "/sql-only/", c))
        for name, path, c in plan:
            label = f"{name}{'-sql-only' if path == '/sql-only/' else ''} c={c}"
            first = out.get(f"{name} c={concurrency[0]}", {}).get("all", {})
            if c != concurrency[0] and first.get("p50", 0) > SKIP_CONCURRENT_ABOVE_MS:
                print(
                    f"HTTP: {label} skipped (c={concurrency[0]} p50 > "
                    f"{SKIP_CONCURRENT_ABOVE_MS} ms)",
                    file=sys.stderr,
                )
                out[label] = {
                    "skipped": f"c={concurrency[0]} p50 above {SKIP_CONCURRENT_ABOVE_MS} ms"
                }
                continue
            print(f"HTTP: {label} …", file=sys.stderr, flush=True)
            target = f"http://127.0.0.1:{targets[name][1]}{path}"
            out[label] = run_client(
                target, token, queries_file, concurrency=c, warmup=warmup, budget=budget
            )
    finally:
        for server in servers.values():
            server.stop()
        queries_file.unlink(missing_ok=True)
    return out


def _row(label: str, s: dict, extra: str = "") -> str:
    if not s.get("n"):
        return f"| {label} | – | – | – | {extra} |"
    return f"| {label} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | {extra} |"


def print_table(result: dict) -> None:
    print(
        f"\nsimilar-incident lookup, {result['stored_incidents']:,} incidents "
        f"({result['queries']} queries: reviews and bot questions)\n"
    )
    print("| where | p50 ms | p99 ms | max ms | notes |")
    print("|---|---:|---:|---:|---|")
    for key, label in (
        ("in_process", "in-process"),
        ("diagnostic_without_full_text", "diagnostic: in-process without the full-text leg"),
    ):
        ip = result.get(key)
        if not ip:
            continue
        note = (
            f"{ip['asked']}/{ip['of']} asked; {ip['queries_median']:.0f} SQL queries each; "
            f"SQL p50 {ip['sql_ms']['p50']:.1f} ms"
        )
        print(_row(label, ip["all"], note))
        print(_row(f"{label}, reviews", ip["summary"]))
        print(_row(f"{label}, bot questions", ip["question"]))
    for label, r in result.get("http", {}).items():
        if "skipped" in r:
            print(f"| HTTP {label} | – | – | – | skipped: {r['skipped']} |")
            continue
        extra = (
            f"{r['asked']}/{r['of']} asked; {r['throughput_rps']:.2f} req/s; errors {r['errors']}"
        )
        print(_row(f"HTTP {label}", r["all"], extra))
        print(_row(f"HTTP {label}, bot questions", r["question"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Similar-incident lookup latency.")
    parser.add_argument("--database-url", help="Default: seams_bench_100k.")
    parser.add_argument("--summaries", type=int, default=150)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--warmup", type=int, default=6)
    parser.add_argument("--budget", type=float, default=600, help="Seconds per measurement.")
    parser.add_argument("--concurrency", default="1,4", help="HTTP: comma-separated.")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-in-process", action="store_true")
    parser.add_argument("--sql", action="store_true", help="Show the slowest queries' SQL.")
    parser.add_argument(
        "--diagnose-without-full-text",
        action="store_true",
        help="Diagnostic only: also time similar_to in-process with its full-text candidate "
        "lookup switched off (not what Seams does; shows what the rest costs).",
    )
    # The client half, run in a second process.
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.client:
        queries = json.loads(args.queries.read_text())
        result = client(
            args.client,
            args.token,
            queries,
            concurrency=int(args.concurrency),
            warmup=args.warmup,
            budget=args.budget,
        )
        print(json.dumps(result))
        return 0

    url = database_url(args.database_url or LARGE)
    setup_django(url)
    from incidents.models import Incident

    token = make_token(url)
    queries = build_queries(args.summaries, args.questions, args.seed)
    result: dict = {
        "database": database_name(url),
        "stored_incidents": Incident.objects.count(),
        "queries": len(queries),
        "machine": machine(),
        "postgres": postgres_info(),
    }
    if not args.no_in_process:
        print("in-process …", file=sys.stderr, flush=True)
        result["in_process"] = in_process(
            queries, warmup=args.warmup, budget=args.budget, show_sql=args.sql
        )
    if args.diagnose_without_full_text:
        import incidents.analysis.similarity as similarity

        print("in-process, diagnostic: without the full-text leg …", file=sys.stderr, flush=True)
        original = similarity._lexical_candidate_ids
        similarity._lexical_candidate_ids = lambda *args, **kwargs: set()
        try:
            result["diagnostic_without_full_text"] = in_process(
                queries, warmup=args.warmup, budget=args.budget, show_sql=False
            )
        finally:
            similarity._lexical_candidate_ids = original
    if not args.no_http:
        from django.db import connections

        connections.close_all()
        levels = [int(c) for c in args.concurrency.split(",")]
        result["http"] = over_http(
            url,
            token,
            queries,
            port=args.port,
            warmup=args.warmup,
            budget=args.budget,
            concurrency=levels,
        )
    result["machine_after"] = machine()
    partial = "-diagnostic" if args.no_in_process and args.no_http else ""
    path = save_result(f"similar-latency-{result['database']}{partial}", result)
    print_table(result)
    if args.sql and "in_process" in result:
        print(json.dumps(result["in_process"].get("slowest"), indent=2))
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
