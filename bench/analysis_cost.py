"""What analysing one new incident costs at 1,000 and at 100,000 stored incidents, and what
the full recompute costs at 100,000.

    # both databases (made by generate.py), alternating, then the ratio
    .venv/bin/python bench/analysis_cost.py
    # one database
    .venv/bin/python bench/analysis_cost.py --database-url postgres://…/seams_bench_100k
    # the nightly full recompute: time and peak memory
    .venv/bin/python bench/analysis_cost.py --recompute --database-url postgres://…/seams_bench_100k

Per database and round (3 rounds, alternating the databases): K new incidents (default 50,
plus 3 warm-up ones not counted) are created with `incidents.services.incident_create` —
the door every write goes through — each a generated ~3 KB review with pattern links,
shapes, components, timeline, factors and action items, started within the last two days.
Each is then analysed by calling `incidents.analysis.recurrence.analyse_incident` directly
(no broker, no worker): that call alone is timed, and its queries counted. Everything
happens inside one outer transaction that is rolled back at the end, so the database is
left exactly as it was (and the after-commit hook that would queue the job never fires).

Issue 5 asks for the ratio of the per-incident cost at 100,000 to that at 1,000 to be ≤ 1.5.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from benchkit import (
    QueryCounter,
    database_name,
    database_url,
    machine,
    max_rss_mb,
    percentile,
    postgres_info,
    save_result,
    setup_django,
)

SMALL = "postgres://postgres@127.0.0.1:5432/seams_bench_1k"
LARGE = "postgres://postgres@127.0.0.1:5432/seams_bench_100k"
SEED = 515  # different from the generator's, so the new incidents are new
WARMUP = 3


class Rollback(Exception):
    """Raised to leave the outer transaction without committing anything."""


def review_contents(n: int, seed: int) -> list:
    """n new reviews (service input), from the generator, dated within the last two days."""
    from django.utils import timezone
    from generate import Generator

    from incidents.services import (
        ActionEntry,
        PatternClaim,
        ReviewContent,
        TimelineEntry,
    )
    from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

    gen = Generator(seed)
    patterns = {p.slug: p for p in StructuralPattern.objects.all()}
    shapes = {s.slug: s for s in EmergentShape.objects.all()}
    levels = {lvl.slug: lvl for lvl in LeverageLevel.objects.all()}
    now = timezone.now()
    contents = []
    for _ in range(n):
        spec = gen.incident()
        shift = now - timedelta(hours=gen.rng.uniform(1, 48)) - spec["started_at"]
        times = {k: spec[k] + shift for k in ("started_at", "detected_at", "mitigated_at")}
        times["resolved_at"] = spec["resolved_at"] + shift
        fields = {
            "title": spec["title"],
            "summary": spec["summary"],
            "impact": spec["impact"],
            "status": spec["status"],
            "severity": spec["severity"],
            "complexity": spec["complexity"],
            "coupling": spec["coupling"],
            **times,
        }
        timeline = [
            TimelineEntry(times["started_at"], "The change reached production.", "trigger"),
            TimelineEntry(times["detected_at"], "The first alert paged on-call.", "detection"),
            TimelineEntry(times["mitigated_at"], "Traffic was moved away.", "mitigation"),
        ]
        actions = [
            ActionEntry(
                title=a["title"][:300],
                owner=a["owner"],
                status=a["status"],
                kind=a["kind"],
                leverage_level=levels.get(a["level"]),
                pattern=patterns.get(a["pattern"]) if a["pattern"] else None,
                completed_at=now if a["status"] == "done" else None,
            )
            for a in spec["actions"]
        ]
        components = [gen.component_names[i] for i in spec["components"]]
        contents.append(
            ReviewContent(
                fields=fields,
                shapes=[shapes[s] for s in spec["shapes"]],
                components=components,
                timeline=timeline,
                factors=["A change that was correct on its own.", "A path nobody had tested."],
                actions=actions,
                patterns=[PatternClaim(patterns[slug], why) for slug, why in spec["patterns"]],
            )
        )
    return contents


def _shape_sql(sql: str) -> str:
    """A statement with its literals blanked, to group the same query together."""
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    return re.sub(r"\(\?(, \?)*\)", "(…)", sql)


def measure(url: str, *, k: int, seed: int, profile: bool, show_sql: bool) -> dict:
    setup_django(url)
    from django.db import connection, transaction

    from incidents.analysis.recurrence import analyse_incident
    from incidents.models import Incident, PatternScore, RecurrenceMembership
    from incidents.services import incident_create

    stored = Incident.objects.count()
    memberships = RecurrenceMembership.objects.count()
    scores = PatternScore.objects.count()
    contents = review_contents(k + WARMUP, seed)
    counter = QueryCounter(keep_sql=show_sql)
    profiler = cProfile.Profile() if profile else None
    analyse_ms, create_ms, queries, db_ms, structures = [], [], [], [], []
    by_statement: dict[str, list[float]] = defaultdict(list)
    try:
        with transaction.atomic():
            for i, content in enumerate(contents):
                t0 = time.perf_counter()
                incident = incident_create(by=None, content=content, note="benchmark")
                t1 = time.perf_counter()
                counter.reset()
                with connection.execute_wrapper(counter):
                    if profiler and i >= WARMUP:
                        profiler.enable()
                    t2 = time.perf_counter()
                    result = analyse_incident(incident_id=incident.pk)
                    t3 = time.perf_counter()
                    if profiler and i >= WARMUP:
                        profiler.disable()
                if i < WARMUP:
                    continue
                create_ms.append((t1 - t0) * 1000)
                analyse_ms.append((t3 - t2) * 1000)
                queries.append(counter.count)
                db_ms.append(counter.seconds * 1000)
                structures.append(len(result.structures))
                for elapsed, sql in counter.sql:
                    by_statement[_shape_sql(sql)].append(elapsed * 1000)
            raise Rollback
    except Rollback:
        pass

    out = {
        "database": database_name(url),
        "stored_incidents": stored,
        "pattern_scores": scores,
        "memberships": memberships,
        "k": k,
        "analyse_ms": {
            "median": statistics.median(analyse_ms),
            "p95": percentile(analyse_ms, 95),
            "mean": statistics.fmean(analyse_ms),
            "min": min(analyse_ms),
            "max": max(analyse_ms),
        },
        "queries_per_analysis": {
            "median": statistics.median(queries),
            "min": min(queries),
            "max": max(queries),
        },
        "db_ms_per_analysis_median": statistics.median(db_ms),
        "structures_joined_median": statistics.median(structures),
        "incident_create_ms_median": statistics.median(create_ms),
        "samples_ms": [round(x, 2) for x in analyse_ms],
        "machine": machine(),
        "postgres": postgres_info(),
    }
    if show_sql:
        top = sorted(by_statement.items(), key=lambda kv: -sum(kv[1]))[:12]
        out["top_sql"] = [
            {
                "total_ms": round(sum(v), 1),
                "calls": len(v),
                "max_ms": round(max(v), 2),
                "sql": s[:400],
            }
            for s, v in top
        ]
    if profiler:
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer).sort_stats("cumulative")
        stats.print_stats(r"incidents|taxonomy", 30)
        out["profile"] = buffer.getvalue()
    return out


def recompute(url: str, *, trace: bool, redis_url: str | None = None) -> dict:
    setup_django(url, redis_url=redis_url)
    from incidents.analysis.recurrence import (
        recompute_all,
        recompute_finished,
        recompute_started,
    )
    from incidents.models import Incident

    # The phases, from the recompute's own signals: before the first chunk (the similarity
    # index relearns its boilerplate there), the scoring pass, and the structures.
    marks: dict[str, float] = {}

    def mark_started(sender, **kwargs):
        marks.setdefault("started", time.perf_counter())

    def mark_finished(sender, **kwargs):
        marks["scored"] = time.perf_counter()

    recompute_started.connect(mark_started, weak=False)
    recompute_finished.connect(mark_finished, weak=False)
    stored = Incident.objects.count()
    before = max_rss_mb()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    structures = recompute_all()
    done = time.perf_counter()
    elapsed = done - t0
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {
        "database": database_name(url),
        "stored_incidents": stored,
        "recompute_all_s": elapsed,
        "phases_s": {
            "before_scoring": marks["started"] - t0,
            "scoring_and_index": marks["scored"] - marks["started"],
            "structures": done - marks["scored"],
        },
        "structures": structures,
        "max_rss_mb_before": round(before, 1),
        "max_rss_mb_peak": round(max_rss_mb(), 1),
        "tracemalloc": trace,
        "tracemalloc_peak_mb": round(peak, 1) if peak is not None else None,
        "machine": machine(),
        "postgres": postgres_info(),
    }


def _run_child(args: list[str]) -> dict:
    """Run this script in a fresh process (each database gets its own Django) → its JSON."""
    done = subprocess.run(
        [sys.executable, __file__, *args, "--json-stdout"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout)


def compare(small: str, large: str, *, k: int, rounds: int, extra: list[str]) -> dict:
    """Alternate the two databases `rounds` times (the machine is shared: alternating spreads
    any background load over both), pooling the samples per database."""
    runs: dict[str, list[dict]] = {small: [], large: []}
    for r in range(rounds):
        for url in (small, large):
            print(f"round {r + 1}/{rounds}: {database_name(url)} …", file=sys.stderr, flush=True)
            runs[url].append(_run_child(["--database-url", url, "--k", str(k), *extra]))
    summary = {}
    for url, results in runs.items():
        samples = [s for r in results for s in r["samples_ms"]]
        summary[database_name(url)] = {
            "stored_incidents": results[0]["stored_incidents"],
            "memberships": results[0]["memberships"],
            "analyses": len(samples),
            "median_ms": statistics.median(samples),
            "p95_ms": percentile(samples, 95),
            "queries_median": statistics.median(
                r["queries_per_analysis"]["median"] for r in results
            ),
            "db_ms_median": statistics.median(r["db_ms_per_analysis_median"] for r in results),
            "per_round_median_ms": [r["analyse_ms"]["median"] for r in results],
        }
    s, lg = summary[database_name(small)], summary[database_name(large)]
    return {
        "k_per_round": k,
        "rounds": rounds,
        "databases": summary,
        "ratio_median": lg["median_ms"] / s["median_ms"],
        "ratio_p95": lg["p95_ms"] / s["p95_ms"],
        "runs": {database_name(u): r for u, r in runs.items()},
    }


def _print_compare(result: dict) -> None:
    print("| database | incidents | memberships | median ms | p95 ms | queries | db ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, d in result["databases"].items():
        print(
            f"| {name} | {d['stored_incidents']:,} | {d['memberships']:,} | "
            f"{d['median_ms']:.1f} | {d['p95_ms']:.1f} | {d['queries_median']:.0f} | "
            f"{d['db_ms_median']:.1f} |"
        )
    verdict = "meets" if result["ratio_median"] <= 1.5 else "MISSES"
    print(
        f"\nratio 100k/1k: median {result['ratio_median']:.2f}, p95 {result['ratio_p95']:.2f} "
        f"({verdict} the ≤ 1.5 aim)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-incident analysis cost and recompute.")
    parser.add_argument("--database-url", help="Measure this database only.")
    parser.add_argument("--small", default=SMALL, help="Compare: the ~1,000-incident database.")
    parser.add_argument("--large", default=LARGE, help="Compare: the ~100,000 one.")
    parser.add_argument("--k", type=int, default=50, help="Incidents analysed per run.")
    parser.add_argument("--rounds", type=int, default=3, help="Compare: alternations.")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", action="store_true", help="cProfile the analyses.")
    parser.add_argument("--sql", action="store_true", help="Show the costliest statements.")
    parser.add_argument("--recompute", action="store_true", help="Time recompute_all instead.")
    parser.add_argument("--tracemalloc", action="store_true", help="With --recompute.")
    parser.add_argument(
        "--redis-url",
        help="With --recompute: the cache Seams would use (the similarity index remembers "
        "there what its last complete pass was built on; without it every fresh process "
        "re-indexes every review).",
    )
    parser.add_argument("--tag", default="", help="With --recompute: added to the file name.")
    parser.add_argument("--json-stdout", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.recompute:
        result = recompute(
            database_url(args.database_url), trace=args.tracemalloc, redis_url=args.redis_url
        )
        result["redis_cache"] = bool(args.redis_url)
        suffix = ("-tracemalloc" if args.tracemalloc else "") + args.tag
        save_result(f"recompute-{result['database']}{suffix}", result)
        print(json.dumps(result, indent=2))
        return 0
    if args.database_url or args.json_stdout:
        url = database_url(args.database_url)
        result = measure(url, k=args.k, seed=args.seed, profile=args.profile, show_sql=args.sql)
        if args.json_stdout:
            print(json.dumps(result))
            return 0
        save_result(f"analysis-cost-{result['database']}", result)
        profile = result.pop("profile", None)
        result.pop("samples_ms")
        print(json.dumps(result, indent=2))
        if profile:
            print(profile)
        return 0
    extra = [flag for flag, on in (("--sql", args.sql),) if on]
    extra += ["--seed", str(args.seed)]
    result = compare(args.small, args.large, k=args.k, rounds=args.rounds, extra=extra)
    path = save_result("analysis-cost", result)
    _print_compare(result)
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
