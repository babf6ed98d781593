"""Recurring structures per reader at 100,000 incidents: Seams beside the same SQL alone.

    .venv/bin/python bench/recurrences_latency.py [--database-url postgres://…/seams_bench_100k]

A reader who may see every member of a structure is shown its stored figures; for any other
reader (the synthetic data restricts 2 % of reviews to the group "security") the structure
is judged again over the members they may see, in Python from one query of membership rows,
and the result is cached under the structure's version and the set of members hidden from
that reader (`incidents.selectors`). So each request is measured twice:

- **warm**: the reader's views are in the cache (every request after the first, until the
  structure or what is hidden from the reader changes);
- **cold** (`--cold-runs`): the cache is cleared before each request, so every structure
  the reader cannot fully see is judged again (the first request after a change).

For each reader (a superuser; an ordinary user outside "security") and each request
(the API's first page, the API filtered by `despite_remediation=true`, the HTML page, the
HTML page with every filter of issue 13 set, and the page of the largest structure,
`/recurrences/<id>/`), in one process with DEBUG off:

1. one request in the state measured (warm or cold) through Django's test client,
   recording every statement and its parameters;
2. `--runs` requests, each timed whole (Seams), alternating with a replay of the recorded
   statements through psycopg on a separate connection, fetching every row (the floor: the
   same SQL without Django, DRF, templates or the Python judging).

`--redis-url` uses Redis as the cache, as a deployment does (default: the process's memory).

Prints a Markdown table (median, p95 and p99 per request, and the ratios of Seams to its
floor) and writes bench/results/recurrences-latency-<db>.json (`--tag` adds to the name).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchkit

REQUESTS = {
    "api": "/api/v1/recurrences/",
    "api-despite": "/api/v1/recurrences/?despite_remediation=true",
    "page": "/recurrences/",
}


def _more_requests() -> dict[str, str]:
    """The structure page of the largest stored structure, and the recurrences page with a
    window, a pattern (that structure's), a severity, "despite remediation" and a sort."""
    from incidents.models import RecurringStructure

    largest = (
        RecurringStructure.objects.select_related("pattern").order_by("-incident_count").first()
    )
    return {
        "page-filtered": (
            f"/recurrences/?window=2y&pattern={largest.pattern.slug}&severity=sev2"
            "&despite_remediation=true&sort=recurrences"
        ),
        "structure": f"/recurrences/{largest.pk}/",
    }


def _readers():
    """A superuser and an outsider to the restricted group, made anew for each run."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    users.filter(username__in=["bench-recur-admin", "bench-recur-outsider"]).delete()
    admin = users.create_superuser("bench-recur-admin", password=None)
    outsider = users.create_user("bench-recur-outsider", password=None)
    return {"superuser": admin, "outsider": outsider}


def _record(client, url: str) -> tuple[int, list[tuple[str, tuple]]]:
    """Request once, keeping every statement with its parameters for the floor."""
    from django.db import connection

    statements: list[tuple[str, tuple]] = []

    def keep(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        response = client.get(url)
    return response.status_code, statements


def _replay(conn, statements) -> None:
    import psycopg

    # Client-side binding, as Django's PostgreSQL backend sends its statements (a prefetch
    # may carry more parameters than server-side binding allows).
    with psycopg.ClientCursor(conn) as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            if cursor.description is not None:
                cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--tag", default="", help="Appended to the result file's name.")
    parser.add_argument(
        "--only", default="", help="Comma-separated request names (api, page-filtered, …)."
    )
    args = parser.parse_args()
    url = benchkit.database_url(args.database_url)
    benchkit.setup_django(url, redis_url=args.redis_url)
    import os

    os.environ["DEBUG"] = "0"
    import psycopg
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    floor_conn = psycopg.connect(
        url.replace("postgres://", "postgresql://", 1),
        autocommit=True,
        options=benchkit.SESSION_OPTIONS,
    )
    results = {}
    requests = {**REQUESTS, **_more_requests()}
    if args.only:
        requests = {k: v for k, v in requests.items() if k in args.only.split(",")}
    cache.clear()
    for reader_name, reader in _readers().items():
        client = Client()
        client.force_login(reader)
        for name, path in requests.items():
            for state, runs in (("cold", args.cold_runs), ("warm", args.runs)):
                if not runs:
                    continue
                before = cache.clear if state == "cold" else (lambda: None)
                if state == "warm":
                    client.get(path)  # fills the cache
                before()
                status, statements = _record(client, path)
                assert status == 200, (reader_name, name, status)
                seams, floor = [], []
                for _ in range(runs):
                    before()
                    start = time.perf_counter()
                    client.get(path)
                    seams.append((time.perf_counter() - start) * 1000)
                    start = time.perf_counter()
                    _replay(floor_conn, statements)
                    floor.append((time.perf_counter() - start) * 1000)
                row = {
                    "queries": len(statements),
                    "runs": runs,
                    "seams_median_ms": statistics.median(seams),
                    "path": path,
                    "seams_p95_ms": benchkit.percentile(seams, 95),
                    "seams_p99_ms": benchkit.percentile(seams, 99),
                    "floor_median_ms": statistics.median(floor),
                    "floor_p95_ms": benchkit.percentile(floor, 95),
                    "floor_p99_ms": benchkit.percentile(floor, 99),
                }
                row["ratio_median"] = row["seams_median_ms"] / row["floor_median_ms"]
                row["ratio_p99"] = row["seams_p99_ms"] / row["floor_p99_ms"]
                results[f"{reader_name} {name} ({state})"] = row
                print(f"{reader_name} {name} ({state}): p99 {row['seams_p99_ms']:.1f} ms, "
                      f"floor {row['floor_p99_ms']:.1f} ms", flush=True)  # fmt: skip

    print(
        "| reader, request | queries | Seams median / p95 / p99 ms "
        "| floor median / p95 / p99 ms | ratio median | ratio p99 |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    for key, row in results.items():
        print(
            f"| {key} | {row['queries']} | {row['seams_median_ms']:.1f} / "
            f"{row['seams_p95_ms']:.1f} / {row['seams_p99_ms']:.1f} | "
            f"{row['floor_median_ms']:.1f} / {row['floor_p95_ms']:.1f} / "
            f"{row['floor_p99_ms']:.1f} | {row['ratio_median']:.2f}× | {row['ratio_p99']:.2f}× |"
        )
    out = benchkit.save_result(
        f"recurrences-latency-{benchkit.database_name(url)}{args.tag}",
        {
            "database": benchkit.database_name(url),
            "runs": args.runs,
            "cold_runs": args.cold_runs,
            "redis_cache": bool(args.redis_url),
            "load_average": os.getloadavg(),
            "machine": benchkit.machine(),
            "postgres": benchkit.postgres_info(),
            "results": results,
        },
    )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
