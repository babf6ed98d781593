"""How fast "have we seen this before?" is answered at 100,000 incidents, against a floor.

    .venv/bin/python bench/similar_latency.py [--database-url postgres://…/seams_bench_100k]

Queries: 150 generated reviews (title and ~3 KB summary, as an author's draft would send) and
50 short free-text bot questions, from the generator with a seed of their own (so they are
new text, not stored incidents), in a fixed shuffled order.

The floor (`bench/floor_wsgi.py`) runs, through psycopg and without Django or DRF, the same
statements and the same scoring as the PostgreSQL path of `similarity.retrieval.ask`, and
answers with the same JSON. Before anything is timed, its constants are checked against
Seams' own.

1. In-process: what `SimilarView.post` calls — `similar_to_text(user, text, limit=5)` — for a
   plain user (no groups, so restricted incidents are hidden, as for a bot), and the floor's
   `answer()` for the same user, query by query in alternating order, each timed with its
   number of statements and the time spent in them (the rest is Python).
2. Over HTTP: gunicorn with 2 workers serves Seams (`config.wsgi`, DEBUG=0) and, on another
   port, the floor. A second process (`--client`, http.client on keep-alive connections)
   POSTs every query to `/api/v1/similar/` with a read token, first one at a time
   (latency), then from 4 concurrent connections (throughput; skipped when one-at-a-time
   answers already take more than 5 s). The two servers take turns: the queries are cut
   into `--blocks` interleaved blocks (4), each asked of one server and then of the other,
   which one first alternating, so that a busy minute of the shared machine falls on both.
   Each server first gets cheap warm-up requests (words that match nothing) that are not
   counted.
3. Agreement: after the timing, every query (or `--agree N` of them) is asked of both
   servers once more; the run reports how many answers name the same incidents in the same
   order, and how many are identical in every field (the `url`s aside, which name the port).

A measurement stops after `--budget` seconds (default 600) even if not every query was
asked; the table says how many were.

Prints a Markdown table and writes bench/results/similar-latency-<db>.json (`--tag` adds a
suffix). Aims: p99 ≤ 150 ms (issues 5 and 7), and within 2× the floor's (issue 12).
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

from benchkit import (
    BENCH,
    ROOT,
    SESSION_OPTIONS,
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


def check_constants() -> list[str]:
    """Names of the floor's constants that differ from Seams' own (the floor is written
    out by hand, so a change to Seams' tuning would otherwise go unnoticed)."""
    import floor_wsgi

    import incidents.analysis.similarity as patterns
    from similarity import boilerplate, documents, index, mechanisms, retrieval
    from similarity import patterns as completion

    expected = {
        **{n: getattr(index, n) for n in ("K1", "B", "TITLE_WEIGHT", "DF_CAP", "MATCH_BUDGET",
                                          "STATS_SECONDS")},
        **{n: getattr(retrieval, n) for n in (
            "LEXICAL_WEIGHT", "CAUSE_WEIGHT", "STRUCTURE_WEIGHT", "MECHANISM_WEIGHT", "MAX_TERMS",
            "CONCENTRATED_SHARE", "CONCENTRATED_WEIGHT", "PER_ORGANISATION_IN_TOP5",
            "STRONG_SCORE", "POSSIBLE_SCORE", "FOCUS_WORDS", "FOCUS_BOOST")},
        **{n: getattr(patterns, n) for n in (
            "PHRASE_WORDS_CAP", "PHRASE_SATURATION", "CANDIDATES_PER_PATTERN",
            "CANDIDATE_PATTERNS", "PATTERN_WEIGHTS_TTL")},
        "SHINGLE": boilerplate.SHINGLE,
        "SENTENCE_SHARE": boilerplate.SENTENCE_SHARE,
        "BOILERPLATE_SECONDS": boilerplate.CACHE_SECONDS,
        "MECHANISM_SECONDS": mechanisms.CACHE_SECONDS,
        "PATTERNS_OFFERED": completion.PATTERNS_OFFERED,
        "NAMED_NEIGHBOURS": completion.NAMED_NEIGHBOURS,
        "EVIDENCE_WORDS": completion.EVIDENCE_WORDS,
        "CAUSE_CHARS": documents.CAUSE_CHARS,
        "CAUSAL": documents._CAUSAL.pattern,
    }  # fmt: skip
    floor = {name: getattr(floor_wsgi, name) for name in expected}
    floor["CAUSAL"] = floor_wsgi.CAUSAL.pattern
    return [name for name, value in expected.items() if floor[name] != value]


class TimedConnection:
    """A psycopg connection whose statements are counted and timed (the floor only calls
    `execute`)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.count = 0
        self.seconds = 0.0

    def execute(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.conn.execute(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0
            self.count += 1


STATEMENT_KINDS = (
    ("term statistics", "phraseto_tsquery"),
    ("ranked candidates (review, cause, mechanisms)", "ts_rank("),
    ("BM25 term weights of the candidates", "unnest(d."),
    ("stemmed forms of the terms", "unnest(to_tsvector"),
    (
        "candidates by pattern",
        'FROM "incidents_patternscore" WHERE ("incidents_patternscore"."pattern_id"',
    ),
)


def statement_kind(sql: str) -> str:
    return next((kind for kind, mark in STATEMENT_KINDS if mark in sql), "other")


def _summary(rows: list[dict], of: int) -> dict:
    return {
        "all": stats([r["ms"] for r in rows]),
        "summary": stats([r["ms"] for r in rows if r["kind"] == "summary"]),
        "question": stats([r["ms"] for r in rows if r["kind"] == "question"]),
        "sql_ms": stats([r["sql_ms"] for r in rows]),
        "python_ms": stats([r["ms"] - r["sql_ms"] for r in rows]),
        "queries_median": statistics.median(r["queries"] for r in rows) if rows else None,
        "queries_max": max((r["queries"] for r in rows), default=None),
        "empty_answers": sum(1 for r in rows if not r["found"]),
        "asked": len(rows),
        "of": of,
    }


def in_process(queries: list[dict], *, url: str, warmup: int, budget: float, show_sql: bool):
    """Seams and the floor in this process, query by query, alternating which goes first
    (each query's statements leave PostgreSQL's buffers warm for the second one)."""
    import floor_wsgi
    import psycopg
    from django.contrib.auth import get_user_model
    from django.db import connection

    from similarity.questions import similar_to_text

    user = get_user_model().objects.get(username=BOT_USER)
    counter = QueryCounter(keep_sql=show_sql)
    floor_conn = TimedConnection(
        psycopg.connect(
            url.replace("postgres://", "postgresql://", 1),
            autocommit=True,
            options=SESSION_OPTIONS,
        )
    )

    def seams(text: str) -> int:
        return len(similar_to_text(user=user, text=text, limit=5).results)

    def floor(text: str) -> int:
        payload = {"text": text.strip(), "limit": 5, "scope": "anywhere", "organisation": ""}
        body = floor_wsgi.answer(
            floor_conn, user=user.pk, superuser=user.is_superuser, payload=payload,
            host="127.0.0.1",
        )  # fmt: skip
        return len(body["incidents"])

    for _ in range(warmup):
        seams(WARMUP_TEXT)
        floor(WARMUP_TEXT)
    rows: dict[str, list[dict]] = {"seams": [], "floor": []}
    slowest: list[tuple[float, str, list]] = []
    by_kind: dict[str, list[float]] = {}
    started = time.perf_counter()
    for i, q in enumerate(queries):
        if time.perf_counter() - started > budget:
            break
        for side in ("seams", "floor") if i % 2 == 0 else ("floor", "seams"):
            if side == "seams":
                counter.reset()
                with connection.execute_wrapper(counter):
                    t0 = time.perf_counter()
                    found = seams(q["text"])
                    elapsed = (time.perf_counter() - t0) * 1000
                count, sql_s = counter.count, counter.seconds
                if show_sql:
                    slowest.append((elapsed, q["kind"], sorted(counter.sql, reverse=True)[:3]))
                    for seconds, sql in counter.sql:
                        by_kind.setdefault(statement_kind(sql), []).append(seconds * 1000)
            else:
                floor_conn.count, floor_conn.seconds = 0, 0.0
                t0 = time.perf_counter()
                found = floor(q["text"])
                elapsed = (time.perf_counter() - t0) * 1000
                count, sql_s = floor_conn.count, floor_conn.seconds
            rows[side].append(
                {"kind": q["kind"], "ms": elapsed, "queries": count, "sql_ms": sql_s * 1000,
                 "found": found}
            )  # fmt: skip
    floor_conn.conn.close()
    out = {side: _summary(r, len(queries)) for side, r in rows.items()}
    if show_sql:
        asked = len(rows["seams"]) or 1
        out["seams"]["sql_by_kind"] = {
            kind: {"statements": len(ms), "ms_per_question": sum(ms) / asked, "max_ms": max(ms)}
            for kind, ms in sorted(by_kind.items(), key=lambda kv: -sum(kv[1]))
        }
        slowest.sort(key=lambda s: -s[0])
        out["seams"]["slowest"] = [
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
        "wall_s": wall,
        "samples": ok,
    }


def merged(blocks: list[dict]) -> dict:
    """One measurement from the client's answers for several blocks of queries."""
    ok = [tuple(s) for b in blocks for s in b["samples"]]
    wall = sum(b["wall_s"] for b in blocks)
    return {
        "concurrency": blocks[0]["concurrency"],
        "blocks": len(blocks),
        "all": stats([ms for _, ms in ok]),
        "summary": stats([ms for k, ms in ok if k == "summary"]),
        "question": stats([ms for k, ms in ok if k == "question"]),
        "errors": sum(b["errors"] for b in blocks),
        "statuses": sorted({s for b in blocks for s in b["statuses"]}),
        "throughput_rps": len(ok) / wall if wall else None,
        "asked": sum(b["asked"] for b in blocks),
        "of": sum(b["of"] for b in blocks),
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


def agreement(token: str, queries: list[dict], ports: dict[str, int]) -> dict:
    """Ask both servers each query once; compare the incidents they name (in order) and
    the whole answers (each result's `url` aside: it names the server's port)."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    conns = {n: http.client.HTTPConnection("127.0.0.1", p, timeout=180) for n, p in ports.items()}
    same_ids, identical, differing = 0, 0, []
    try:
        for i, q in enumerate(queries):
            body = json.dumps({"text": q["text"], "limit": 5})
            answers = {}
            for name, conn in conns.items():
                conn.request("POST", "/api/v1/similar/", body=body, headers=headers)
                response = conn.getresponse()
                answers[name] = json.loads(response.read())
                for row in answers[name].get("incidents", []):
                    row.pop("url", None)
            ids = {n: [r["id"] for r in a.get("incidents", [])] for n, a in answers.items()}
            same_ids += ids["seams"] == ids["floor"]
            identical += answers["seams"] == answers["floor"]
            if answers["seams"] != answers["floor"] and len(differing) < 5:
                differing.append({"query": i, "kind": q["kind"], **ids})
    finally:
        for conn in conns.values():
            conn.close()
    return {
        "asked": len(queries),
        "same_top5_ids": same_ids,
        "identical_answers": identical,
        "first_differences": differing,
    }


def over_http(
    url: str,
    token: str,
    queries: list[dict],
    *,
    port: int,
    warmup: int,
    budget: float,
    concurrency: list[int],
    agree: int,
    blocks: int,
) -> dict:
    """Seams and the floor in turns: the queries are cut into `blocks` interleaved blocks,
    and each block is asked of one server then the other (which one first alternates), so
    that a busy minute on the shared machine falls on both alike."""
    files = []
    for b in range(blocks):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(queries[b::blocks], fh)
            files.append(Path(fh.name))
    targets = {
        "seams": ("config.wsgi", port, None),
        "floor": ("floor_wsgi:application", port + 1, BENCH),
    }
    servers = {}
    out: dict = {}
    try:
        for name, (app, p, chdir) in targets.items():
            servers[name] = Server(app, p, url, chdir=chdir)
        for server in servers.values():
            server.wait_ready()
        for c in concurrency:
            first = out.get(f"seams c={concurrency[0]}", {}).get("all", {})
            if c != concurrency[0] and first.get("p50", 0) > SKIP_CONCURRENT_ABOVE_MS:
                print(f"HTTP: c={c} skipped (c={concurrency[0]} p50 > "
                      f"{SKIP_CONCURRENT_ABOVE_MS} ms)", file=sys.stderr)  # fmt: skip
                for name in targets:
                    out[f"{name} c={c}"] = {
                        "skipped": f"c={concurrency[0]} p50 above {SKIP_CONCURRENT_ABOVE_MS} ms"
                    }
                continue
            answers: dict[str, list[dict]] = {name: [] for name in targets}
            for b, queries_file in enumerate(files):
                for name in ("seams", "floor") if b % 2 == 0 else ("floor", "seams"):
                    print(f"HTTP: {name} c={c}, block {b + 1}/{blocks} …", file=sys.stderr,
                          flush=True)  # fmt: skip
                    target = f"http://127.0.0.1:{targets[name][1]}/api/v1/similar/"
                    answers[name].append(
                        run_client(target, token, queries_file, concurrency=c, warmup=warmup,
                                   budget=budget / blocks)
                    )  # fmt: skip
            for name, parts in answers.items():
                out[f"{name} c={c}"] = merged(parts)
        if agree:
            print(f"HTTP: agreement over {agree} queries …", file=sys.stderr, flush=True)
            out["agreement"] = agreement(
                token, queries[:agree], {n: t[1] for n, t in targets.items()}
            )
    finally:
        for server in servers.values():
            server.stop()
        for queries_file in files:
            queries_file.unlink(missing_ok=True)
    return out


def _row(label: str, s: dict, extra: str = "") -> str:
    if not s.get("n"):
        return f"| {label} | – | – | – | {extra} |"
    return f"| {label} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | {extra} |"


def _ratio(seams: dict, floor: dict) -> str:
    if not seams.get("n") or not floor.get("n"):
        return ""
    return (
        f"p50 {seams['p50'] / floor['p50']:.2f}×, p99 {seams['p99'] / floor['p99']:.2f}× the floor"
    )


def print_table(result: dict) -> None:
    print(
        f"\nsimilar-incident lookup, {result['stored_incidents']:,} incidents "
        f"({result['queries']} queries: reviews and bot questions)\n"
    )
    print("| where | p50 ms | p99 ms | max ms | notes |")
    print("|---|---:|---:|---:|---|")
    ip = result.get("in_process")
    if ip:
        for side in ("seams", "floor"):
            r = ip[side]
            note = (
                f"{r['asked']}/{r['of']} asked; {r['queries_median']:.0f} statements (median); "
                f"SQL p50 {r['sql_ms']['p50']:.1f} ms, Python p50 {r['python_ms']['p50']:.1f} ms"
            )
            if side == "seams":
                note += "; " + _ratio(r["all"], ip["floor"]["all"])
            print(_row(f"in-process {side}", r["all"], note))
            print(_row(f"in-process {side}, reviews", r["summary"]))
            print(_row(f"in-process {side}, bot questions", r["question"]))
    http = result.get("http", {})
    for label, r in http.items():
        if label == "agreement":
            continue
        if "skipped" in r:
            print(f"| HTTP {label} | – | – | – | skipped: {r['skipped']} |")
            continue
        extra = (
            f"{r['asked']}/{r['of']} asked; {r['throughput_rps']:.2f} req/s; errors {r['errors']}"
        )
        floor = http.get(label.replace("seams", "floor"), {})
        if label.startswith("seams") and "all" in floor:
            extra += "; " + _ratio(r["all"], floor["all"])
        print(_row(f"HTTP {label}", r["all"], extra))
        print(_row(f"HTTP {label}, reviews", r["summary"]))
        print(_row(f"HTTP {label}, bot questions", r["question"]))
    agree = http.get("agreement")
    if agree:
        print(
            f"\nagreement: {agree['same_top5_ids']}/{agree['asked']} answers name the same "
            f"incidents in the same order; {agree['identical_answers']}/{agree['asked']} "
            "identical in every field"
        )


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
    parser.add_argument(
        "--agree", type=int, default=None, help="Queries checked for agreement (default: all)."
    )
    parser.add_argument(
        "--blocks", type=int, default=4, help="HTTP: Seams and the floor take turns this often."
    )
    parser.add_argument("--tag", default="", help="Suffix of the result file's name.")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-in-process", action="store_true")
    parser.add_argument("--sql", action="store_true", help="Show the slowest queries' SQL.")
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

    drifted = check_constants()
    if drifted:
        raise SystemExit(f"bench/floor_wsgi.py no longer matches Seams: {', '.join(drifted)}")
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
            queries, url=url, warmup=args.warmup, budget=args.budget, show_sql=args.sql
        )
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
            agree=len(queries) if args.agree is None else args.agree,
            blocks=args.blocks,
        )
    result["machine_after"] = machine()
    tag = f"-{args.tag}" if args.tag else ""
    path = save_result(f"similar-latency-{result['database']}{tag}", result)
    print_table(result)
    if args.sql and "in_process" in result:
        print(json.dumps(result["in_process"]["seams"].get("sql_by_kind"), indent=2))
        print(json.dumps(result["in_process"]["seams"].get("slowest"), indent=2))
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
