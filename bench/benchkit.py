"""What every benchmark script shares: which database, how Django is set up, and how a
percentile is computed.

The benchmarks run against throw-away PostgreSQL databases named `seams_bench*` (never the
project's own database); `DATABASE_URL` chooses one.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/seams_bench"


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


# The session settings of Seams' own PostgreSQL connections (config/settings/base.py turns
# JIT off): a floor replaying Seams' statements must run them in the same session.
SESSION_OPTIONS = "-c jit=off"


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _maintenance_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))


def _connect_maintenance(url: str):
    import psycopg

    dsn = _maintenance_url(url).replace("postgres://", "postgresql://", 1)
    return psycopg.connect(dsn, autocommit=True)


def database_exists(url: str) -> bool:
    with _connect_maintenance(url) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)]
        ).fetchone()
    return row is not None


def ensure_database(url: str, *, reset: bool = False) -> bool:
    """Create the database if it is missing (drop it first with `reset`). True if created."""
    from psycopg import sql

    name = database_name(url)
    if reset and "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: only databases named *bench* are reset")
    with _connect_maintenance(url) as conn:
        if reset:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def django_env(url: str, **extra: str) -> dict[str, str]:
    """The environment the benchmarks run Django in: PostgreSQL, no broker (nothing is
    queued: the scripts call the analysis directly), development settings."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DEBUG": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def migrate(url: str) -> None:
    """`manage.py migrate` in a subprocess, exactly as an operator would run it."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=django_env(url),
        check=True,
    )


def setup_django(url: str, *, redis_url: str | None = None) -> None:
    """Configure this process for Django against `url` and call django.setup(). Without
    `redis_url` the cache is the process's own memory (REDIS_URL is cleared)."""
    os.environ.update(django_env(url))
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def max_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    info = {
        "cpus": str(os.cpu_count()),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            info["memory"] = fh.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return info


def save_result(name: str, data: dict) -> Path:
    """Write a result as JSON to bench/results/NAME.json and return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def postgres_info() -> dict[str, str]:
    """The server's version and the settings that matter most here (needs Django set up)."""
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for name in ("server_version", "shared_buffers", "work_mem", "effective_cache_size"):
            cursor.execute(f"SHOW {name}")
            out[name] = cursor.fetchone()[0]
    return out


class QueryCounter:
    """Counts the queries Django sends and the time spent in them, via an execute wrapper
    (much lighter than CaptureQueriesContext: no SQL strings are kept unless asked)."""

    def __init__(self, keep_sql: bool = False) -> None:
        self.count = 0
        self.seconds = 0.0
        self.keep_sql = keep_sql
        self.sql: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        import time

        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            self.count += 1
            self.seconds += elapsed
            if self.keep_sql:
                self.sql.append((elapsed, sql))

    def reset(self) -> None:
        self.count, self.seconds, self.sql = 0, 0.0, []
