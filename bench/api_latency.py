"""The API for bots at 100,000 incidents (issue 7): Seams beside a bare-WSGI floor.

    .venv/bin/python bench/api_latency.py [--database-url postgres://…/seams_bench_100k]

0. The database's relations are read once into the OS page cache (`pg_prewarm`, "read"
   mode), so that a run does not measure the disk (see `warm_page_cache`).
1. In-process (Django, DEBUG=0): a superuser `bench-admin` and a read token for it
   (`manage.py create_api_token bench-api --scope read --user bench-admin`, made anew on
   each run; the earlier `bench-api` token of that user is deleted). Each benchmarked
   request is made once through Django's test client to warm up, then again with an execute
   wrapper that records every statement and its parameters: the queries per request, and
   the plan that `bench/floor_api.py` replays.
2. Two gunicorn servers with 2 sync workers each, on loopback: Seams (`config.wsgi`,
   DEBUG=0, SEAMS_API_RATE=1000000/min so throttling never answers 429, no REDIS_URL so the
   throttle's cache is per-process memory) and the floor (`floor_api:application`: the same
   SQL through psycopg, the same JSON). Both answer every request once first and the answers
   are compared (links normalised to one port): the floor must return exactly Seams' JSON.
   For `similar` the floor replays the statements Seams ran for that body and re-encodes
   Seams' answer: the SQL and the JSON without Seams' Python ranking (see floor_api).
3. For each request, Seams then the floor: a warm-up run (`--warmup` seconds, not counted),
   then `wrk -t2 -c4 -d20s --latency` with a Lua script that sends `Authorization: Token …`
   (and the body, for POST) and prints wrk's own latency percentiles as JSON.
   Requests: (a) `GET /api/v1/incidents/` (50 per page, each with action items, shapes,
   patterns and components); (b) the same filtered by `pattern=` the most linked pattern;
   (c) full-text `q=` two words that ~1 % of reviews contain (`--q`), and (c′) two words
   that ~16 % contain (`--q-broad`: every match is ranked, so this is the heavy case);
   (d) `POST /api/v1/similar/` with a bot's question and (d′) with a ~3 KB draft review
   (`similar_latency.build_queries(1, 1, 4242)`: new text from the generator with the
   similar benchmark's seed, not stored incidents).
4. The grep floor for each `q`: every review as a Markdown file (title and summary, written
   from the database into `--markdown-dir` once), and
   `grep -ril W1 DIR | xargs grep -il W2` timed (one warm-up, then `--grep-runs` runs; with
   hyperfine when it is installed).

Prints a Markdown table and writes bench/results/api-latency-<db>.json. Aims (issue 7): list
p99 ≤ 15 ms and ≤ 2× the floor; `q` p99 ≤ 50 ms and ≥ 20× faster than grep; similar p99 ≤
150 ms.

    .venv/bin/python bench/api_latency.py --profile list   # pyinstrument, in-process

profiles 200 in-process requests of one endpoint (list, pattern, q, q-broad,
similar-question, similar-review) with pyinstrument (install it into the venv: it is not
a requirement).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from benchkit import (
    BENCH,
    ROOT,
    database_name,
    database_url,
    django_env,
    machine,
    postgres_info,
    save_result,
)

LARGE = "postgres://postgres@127.0.0.1:5432/seams_bench_100k"
ADMIN = "bench-admin"
TOKEN_NAME = "bench-api"
HOST = "127.0.0.1"
# The environment of the servers, as the brief and a production deployment set it.
SERVER_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": HOST,
    "SECURE_COOKIES": "0",
    "SEAMS_API_RATE": "1000000/min",
}
WRK = ["wrk", "-t2", "-c4", "-d20s", "--latency"]
DEFAULT_Q = "failover database"  # ~1,200 of 100,000 reviews match both
DEFAULT_Q_BROAD = "replication checkout"  # ~16,000 match: a broad search
MARKDOWN_DIR = Path("/tmp/seams-bench-md-100k")
AIMS = {"list_p99_ms": 15, "list_floor_ratio": 2, "q_p99_ms": 50, "q_vs_grep": 20}
AIMS["similar_p99_ms"] = 150


def setup(url: str, **extra: str) -> None:
    """Django in this process with the servers' settings (DEBUG=0: no query log)."""
    os.environ.update(django_env(url, **SERVER_ENV, **extra))
    os.environ.pop("REDIS_URL", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_superuser(password: str | None = None):
    """The benchmark's superuser (created once; its password set when one is given)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    user = users.filter(username=ADMIN).first()
    if user is None:
        user = users.create_superuser(ADMIN, email="", password=password)
        if password is None:
            user.set_unusable_password()
            user.save()
    elif password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def make_token(url: str) -> str:
    """A read token for the superuser, made by the management command; returns the key."""
    from incidents.models import ApiToken

    admin = ensure_superuser()
    ApiToken.objects.filter(user=admin, name=TOKEN_NAME).delete()
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_api_token",
            TOKEN_NAME,
            "--scope",
            "read",
            "--user",
            ADMIN,
        ],
        cwd=ROOT,
        env=django_env(url, **SERVER_ENV),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def most_linked_pattern() -> tuple[str, int]:
    from django.db.models import Count

    from incidents.models import PatternLink

    row = (
        PatternLink.objects.values("pattern__slug")
        .annotate(n=Count("id"))
        .order_by("-n", "pattern__slug")
        .first()
    )
    return row["pattern__slug"], row["n"]


def text_matches(q: str) -> int:
    from incidents.models import Incident
    from similarity.search import text_search

    return text_search(Incident.objects.all(), q).count()


def warm_page_cache() -> int | None:
    """Read every table, index and TOAST relation of the database once (pg_prewarm's
    "read" mode: into the operating system's page cache, not PostgreSQL's buffers).

    A freshly generated database is partly on disk: the first runs measured the disk, and
    later runs did not. Warming it first makes runs comparable, as the `grep` floor reads
    files from a warm page cache too. Returns the blocks read, or None (with a note) when
    the extension is not available.
    """
    from django.db import Error, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            cursor.execute(
                "SELECT COALESCE(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't')"
            )
            return int(cursor.fetchone()[0])
    except Error as error:
        print(f"page cache not warmed (pg_prewarm: {error})", file=sys.stderr)
        return None


# --- capture: what Seams sends to PostgreSQL for one request ------------------------------


class Recorder:
    """An execute wrapper that keeps each statement with its parameters."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, list(params or [])))
        return execute(sql, params, many, context)


def request_in_process(
    key: str, method: str, path: str, query: dict, body: bytes | None, port: int
):
    from django.test import Client

    client = Client(HTTP_HOST=f"{HOST}:{port}")
    headers = {"HTTP_AUTHORIZATION": f"Token {key}", "HTTP_ACCEPT": "application/json"}
    if method == "GET":
        return client.get(path, query, **headers)
    return client.post(path, body, content_type="application/json", **headers)


def capture(key: str, method: str, path: str, query: dict, body: bytes | None, port: int):
    """(statements, response) of the second of two identical requests."""
    from django.db import connection

    request_in_process(key, method, path, query, body, port)
    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        response = request_in_process(key, method, path, query, body, port)
    if response.status_code != 200:
        raise SystemExit(
            f"{method} {path} {query}: {response.status_code} {response.content[:300]}"
        )
    return recorder.statements, json.loads(response.content)


# The table each child-row statement reads from (its FROM), and what the floor calls it.
PREFETCH_TABLES = {
    "incidents_incident_shapes": "shapes",
    "incidents_incident_components": "components",
    "incidents_patternlink": "pattern_links",
    "incidents_actionitem": "action_items",
}


def replay_plan(statements: list[tuple[str, list]], *, digest: str) -> list[dict]:
    """The statements as they ran; only the token's digest comes from the request."""
    steps = []
    for sql, params in statements:
        token = 'FROM "incidents_apitoken"' in sql
        steps.append(
            {
                "role": "token" if token else "replay",
                "sql": sql,
                "params": params,
                "kinds": ["digest" if token and p == digest else "" for p in params],
            }
        )
    return steps


def from_table(sql: str) -> str:
    """The first table of a statement's own FROM (not of a subquery in its SELECT list)."""
    depth = 0
    for i, char in enumerate(sql):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and sql.startswith(" FROM ", i):
            table = re.match(r'\s*"(\w+)"', sql[i + len(" FROM ") :])
            return table[1] if table else ""
    return ""


def plan_for(
    statements: list[tuple[str, list]], *, digest: str, query: dict, pattern_id: int | None
) -> list[dict]:
    """Each statement with its role and where each parameter comes from (see floor_api)."""
    from floor_api import select_columns

    steps: list[dict] = []
    ids: list[int] | None = None
    for sql, params in statements:
        table = from_table(sql)
        step: dict = {"sql": sql, "params": params, "kinds": [""] * len(params)}
        if table == "incidents_apitoken":
            step["role"] = "token"
        elif ids is None and "COUNT(*)" in sql.upper():
            step["role"] = "count"
        elif ids is None and table == "incidents_incident":
            step["role"] = "main"
        elif ids is None:
            step["role"] = "lookup"
        elif table == "incidents_incident":
            # ranked search: the main statement ranked ids only; this reads the page's rows
            step["role"] = "rows"
            if params != ids[: len(params)]:
                raise SystemExit(f"row parameters are not the page's ids: {sql[:200]}")
        elif table in PREFETCH_TABLES:
            step["role"], step["name"] = "prefetch", PREFETCH_TABLES[table]
            if params == ids:
                step["order"] = "main"
            elif len(params) < len(ids) and params == ids[: len(params)]:
                # the page's rows only, without the one extra row a cursor page reads
                step["order"] = "page"
            elif params == sorted(ids):
                step["order"] = "sorted"
            else:
                raise SystemExit(f"prefetch parameters are not the page's ids: {sql[:200]}")
        else:
            raise SystemExit(f"statement the floor does not know: {sql[:300]}")
        if step["role"] != "prefetch":
            for i, p in enumerate(params):
                if p == digest:
                    step["kinds"][i] = "digest"
                elif "q" in query and p == query["q"]:
                    step["kinds"][i] = "q"
                elif "pattern" in query and p == query["pattern"]:
                    step["kinds"][i] = "pattern_slug"
                elif (
                    step["role"] in ("main", "count") and pattern_id is not None and p == pattern_id
                ):
                    step["kinds"][i] = "pattern_id"
        if step["role"] == "main":
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            columns = select_columns(sql)
            at = next(
                columns.index(name)
                for name in ("incidents_incident.id", "id", "pk")
                if name in columns
            )
            ids = [r[at] for r in rows]
        steps.append(step)
    return steps


# --- servers and load -------------------------------------------------------------------------


class Server:
    """gunicorn with 2 sync workers on a loopback port, stopped (by its own pid) on exit."""

    def __init__(
        self,
        app: str,
        port: int,
        url: str,
        *,
        chdir: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        env = django_env(url, **SERVER_ENV, **(extra_env or {}))
        command = [str(ROOT / ".venv" / "bin" / "gunicorn"), app, "-w", "2", "-b", f"{HOST}:{port}"]
        # Seams' own gunicorn settings (as `make serve` and the Docker image), for both.
        command += ["--config", str(ROOT / "config" / "gunicorn.conf.py"), "--timeout", "120"]
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
                raise RuntimeError(f"gunicorn exited: {Path(self.log.name).read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not become ready")

    def log_tail(self) -> str:
        return Path(self.log.name).read_text()[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\": %.0f, \"duration_us\": %.0f, \"bytes\": %.0f, " ..
    "\"p50_us\": %.0f, \"p75_us\": %.0f, \"p90_us\": %.0f, \"p99_us\": %.0f, " ..
    "\"max_us\": %.0f, \"mean_us\": %.1f, \"stdev_us\": %.1f, \"connect\": %.0f, " ..
    "\"read\": %.0f, \"write\": %.0f, \"status\": %.0f, \"timeout\": %.0f}\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, latency.stdev,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def lua_script(headers: dict[str, str], *, method: str = "GET", body: bytes | None = None) -> Path:
    """A wrk script sending these headers (and body), reporting its numbers as JSON."""
    lines = [f'wrk.method = "{method}"']
    for name, value in headers.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    if body is not None:
        text = body.decode()
        if "]==]" in text:
            raise ValueError("body cannot be quoted for Lua")
        lines.append(f"wrk.body = [==[{text}]==]")
    with tempfile.NamedTemporaryFile("w", prefix="seams-bench-", suffix=".lua", delete=False) as fh:
        fh.write("\n".join(lines) + "\n" + LUA_DONE)
    return Path(fh.name)


def run_wrk(
    url: str, script: Path, *, duration: str | None = None, extra: tuple[str, ...] = ()
) -> dict:
    """wrk -t2 -c4 -d20s --latency (or a shorter warm-up) against url; wrk's numbers.
    A request that takes longer than wrk's timeout (2 s unless `extra` says otherwise) is
    counted as a timeout, not in the latencies: `valid` is false when any timed out."""
    command = [*WRK, *extra, "-s", str(script), url]
    if duration:
        command = [c if not c.startswith("-d") else f"-d{duration}" for c in command]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"^WRKJSON (.*)$", done.stdout, re.M)
    if not found:
        raise RuntimeError(f"wrk printed no result: {done.stdout}\n{done.stderr}")
    raw = json.loads(found[1])
    seconds = raw["duration_us"] / 1e6
    return {
        "command": " ".join(command),
        "requests": int(raw["requests"]),
        "rps": raw["requests"] / seconds if seconds else None,
        "p50_ms": raw["p50_us"] / 1000,
        "p75_ms": raw["p75_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": raw["mean_us"] / 1000,
        "bytes_per_request": raw["bytes"] / raw["requests"] if raw["requests"] else None,
        "errors": {k: int(raw[k]) for k in ("connect", "read", "write", "status", "timeout")},
        "valid": raw["requests"] > 0 and raw["timeout"] == 0 and raw["status"] == 0,
        "wrk_text": done.stdout,
    }


def fetch(url: str, headers: dict[str, str], *, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def first_difference(a, b, path: str = "$") -> str | None:
    """Where two JSON values first differ, or None."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)} vs {list(b)}"
        for k in a:
            found = first_difference(a[k], b[k], f"{path}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


# --- the grep floor -------------------------------------------------------------------------


def write_markdown(directory: Path) -> dict:
    """Every review as DIR/<id>.md (title and summary), unless all are there already."""
    from incidents.models import Incident

    expected = Incident.objects.count()
    if directory.is_dir() and sum(1 for _ in directory.glob("*.md")) == expected:
        return {"written": 0, "files": expected, "seconds": 0}
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    t0 = time.perf_counter()
    rows = Incident.objects.order_by("id").values_list("id", "title", "summary")
    for pk, title, summary in rows.iterator(chunk_size=2000):
        (directory / f"{pk:07d}.md").write_text(f"# {title}\n\n{summary}\n")
    return {"written": expected, "files": expected, "seconds": time.perf_counter() - t0}


def grep_floor(words: list[str], directory: Path, runs: int) -> dict:
    """Time `grep -ril W1 DIR | xargs grep -il W2` (hyperfine if installed)."""
    command = f'grep -ril "{words[0]}" {directory} | xargs grep -il "{words[1]}"'
    matched = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, check=False
    ).stdout.count("\n")
    out: dict = {
        "command": command,
        "files_matched": matched,
        "locale": os.environ.get("LC_ALL") or os.environ.get("LANG") or "(unset)",
    }
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as fh:
            subprocess.run(
                [
                    *("hyperfine", "-N", "--warmup", "1", "--runs", str(runs)),
                    *("--export-json", fh.name, f"bash -c '{command}'"),
                ],
                check=True,
                capture_output=True,
            )
            times = [t * 1000 for t in json.loads(Path(fh.name).read_text())["results"][0]["times"]]
        out["tool"] = "hyperfine"
    else:
        subprocess.run(["bash", "-c", command], capture_output=True, check=False)  # warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(["bash", "-c", command], capture_output=True, check=False)
            times.append((time.perf_counter() - t0) * 1000)
        out["tool"] = "time.perf_counter around subprocess.run (hyperfine not installed)"
    out.update(
        {
            "runs_ms": times,
            "median_ms": statistics.median(times),
            "min_ms": min(times),
            "max_ms": max(times),
        }
    )
    return out


# --- profile ----------------------------------------------------------------------------------


def profile(name: str, requests: dict, key: str, port: int, n: int) -> None:
    from pyinstrument import Profiler

    method, path, query, body = requests[name]
    for _ in range(5):
        request_in_process(key, method, path, query, body, port)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    t0 = time.perf_counter()
    for _ in range(n):
        request_in_process(key, method, path, query, body, port)
    elapsed = time.perf_counter() - t0
    profiler.stop()
    print(f"{name}: {n} in-process requests, {elapsed / n * 1000:.2f} ms each\n")
    print_profile(profiler)


def print_profile(profiler, lines: int = 45) -> None:
    """The functions with the most time of their own, then with the most time in all."""
    for mode in ("self", "total"):
        text = profiler.output_text(
            unicode=True, flat=True, flat_time=mode, time="percent_of_total", show_all=True
        )
        print(f"--- flat, {mode} time ---")
        print("\n".join(text.splitlines()[:lines]))


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="API latency: Seams beside a bare-WSGI floor.")
    parser.add_argument("--database-url", help="Default: seams_bench_100k.")
    parser.add_argument("--port", type=int, default=8781, help="Seams; the floor on PORT+1.")
    parser.add_argument("--warmup", default="3s", help="wrk warm-up run before each (not counted).")
    parser.add_argument("--duration", help="Override wrk's -d20s (for a quick try only).")
    parser.add_argument("--pattern", help="Pattern slug for (b). Default: the most linked one.")
    parser.add_argument(
        "--q", default=DEFAULT_Q, help=f"Two words for (c). Default: {DEFAULT_Q!r}."
    )
    parser.add_argument(
        "--q-broad",
        default=DEFAULT_Q_BROAD,
        help=f"Two common words for (c′), a broad search. Default: {DEFAULT_Q_BROAD!r}.",
    )
    parser.add_argument("--markdown-dir", type=Path, default=MARKDOWN_DIR)
    parser.add_argument("--grep-runs", type=int, default=5)
    parser.add_argument("--no-grep", action="store_true")
    parser.add_argument("--only", help="Comma-separated request names to measure.")
    parser.add_argument("--profile", help="Profile one request in-process (pyinstrument).")
    parser.add_argument("--profile-requests", type=int, default=200)
    args = parser.parse_args(argv)

    url = database_url(args.database_url or LARGE)
    setup(url)
    from similar_latency import build_queries

    from incidents.models import ApiToken, Incident

    key = make_token(url)
    digest = ApiToken.hash_key(key)
    pattern, pattern_links = (args.pattern, None) if args.pattern else most_linked_pattern()
    if len(args.q.split()) != 2 or len(args.q_broad.split()) != 2:
        raise SystemExit("--q and --q-broad take two words")
    queries = build_queries(1, 1, 4242)
    question = next(q["text"] for q in queries if q["kind"] == "question")
    review = next(q["text"] for q in queries if q["kind"] == "summary")
    list_path, similar_path = "/api/v1/incidents/", "/api/v1/similar/"
    requests = {
        "list": ("GET", list_path, {}, None),
        "pattern": ("GET", list_path, {"pattern": pattern}, None),
        "q": ("GET", list_path, {"q": args.q}, None),
        "q-broad": ("GET", list_path, {"q": args.q_broad}, None),
        "similar-question": (
            "POST",
            similar_path,
            {},
            json.dumps({"text": question, "limit": 5}).encode(),
        ),
        "similar-review": (
            "POST",
            similar_path,
            {},
            json.dumps({"text": review, "limit": 5}).encode(),
        ),
    }
    if args.profile:
        profile(args.profile, requests, key, args.port, args.profile_requests)
        return 0
    names = args.only.split(",") if args.only else list(requests)

    from taxonomy.models import StructuralPattern

    pattern_id = StructuralPattern.objects.get(slug=pattern).pk
    result: dict = {
        "database": database_name(url),
        "stored_incidents": Incident.objects.count(),
        "machine": machine(),
        "postgres": postgres_info(),
        "wrk": " ".join(WRK),
        "wrk_version": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(
            "\n"
        )[0],
        "pattern": {"slug": pattern, "links": pattern_links},
        "q": {"text": args.q, "matches": text_matches(args.q)},
        "q_broad": {"text": args.q_broad, "matches": text_matches(args.q_broad)},
        "similar_bodies": {"question": question, "review_chars": len(review)},
        "aims": AIMS,
        "requests": {},
    }
    result["page_cache_warmed_blocks"] = warm_page_cache()
    plan: dict = {"endpoints": {}}
    print("capturing the SQL of each request …", file=sys.stderr, flush=True)
    for name in names:
        method, path, query, body = requests[name]
        statements, answer = capture(key, method, path, query, body, args.port)
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "queries_per_request": len(statements),
            "statements": [s[:160] for s, _ in statements],
        }
        if method == "GET":
            plan["endpoints"][name] = {
                "mode": "list",
                "method": method,
                "path": path,
                "query": query,
                "pagination": "page" if "q" in query else "cursor",
                "page_size": 50,
                "steps": plan_for(statements, digest=digest, query=query, pattern_id=pattern_id),
            }
            entry["results"] = len(answer["results"])
        else:
            plan["endpoints"][name] = {
                "mode": "replay",
                "method": method,
                "path": path,
                "query": query,
                "body_sha1": hashlib.sha1(body).hexdigest(),
                "answer": answer,
                "steps": replay_plan(statements, digest=digest),
            }
            entry["results"] = len(answer["incidents"])
        result["requests"][name] = entry
    with tempfile.NamedTemporaryFile(
        "w", prefix="seams-floor-plan-", suffix=".json", delete=False
    ) as fh:
        json.dump(plan, fh)
        plan_file = Path(fh.name)

    from django.db import connections

    connections.close_all()
    servers = {
        "seams": Server("config.wsgi", args.port, url),
        "floor": Server(
            "floor_api:application",
            args.port + 1,
            url,
            chdir=BENCH,
            extra_env={"FLOOR_API_PLAN": str(plan_file)},
        ),
    }
    scripts: list[Path] = []
    try:
        for server in servers.values():
            server.wait_ready()
        headers = {"Authorization": f"Token {key}", "Accept": "application/json"}
        for name in names:
            method, path, query, body = requests[name]
            entry = result["requests"][name]
            target = path + (f"?{urlencode(query)}" if query else "")
            answers = {}
            for label, server in servers.items():
                extra = {"Content-Type": "application/json"} if body else {}
                status, data = fetch(
                    f"http://{HOST}:{server.port}{target}", {**headers, **extra}, body=body
                )
                if status != 200:
                    raise RuntimeError(
                        f"{label} {target}: {status} {data[:300]!r}\n{server.log_tail()}"
                    )
                # The floor's links name its own port; compare them as if they were Seams'.
                answers[label] = json.loads(
                    data.replace(f"{HOST}:{server.port}/".encode(), f"{HOST}:{args.port}/".encode())
                )
                entry[f"{label}_response_bytes"] = len(data)
            entry["floor_json_differs_at"] = first_difference(answers["seams"], answers["floor"])
            entry["floor_json_identical"] = entry["floor_json_differs_at"] is None
            script = lua_script(
                {**headers, **({"Content-Type": "application/json"} if body else {})},
                method=method,
                body=body,
            )
            scripts.append(script)
            for label, server in servers.items():
                wrk_url = f"http://{HOST}:{server.port}{target}"
                print(f"wrk {name} {label} …", file=sys.stderr, flush=True)
                run_wrk(wrk_url, script, duration=args.warmup)
                load_before = os.getloadavg()[0]
                measured = run_wrk(wrk_url, script, duration=args.duration)
                measured["load1_before_after"] = [load_before, os.getloadavg()[0]]
                entry[label] = measured
                print(
                    f"  p50 {measured['p50_ms']:.2f} ms, p99 {measured['p99_ms']:.2f} ms, "
                    f"{measured['rps']:.1f} req/s, errors {measured['errors']}",
                    file=sys.stderr,
                    flush=True,
                )
            entry["p99_ratio_seams_to_floor"] = entry["seams"]["p99_ms"] / entry["floor"]["p99_ms"]
            entry["p50_ratio_seams_to_floor"] = entry["seams"]["p50_ms"] / entry["floor"]["p50_ms"]
    finally:
        for server in servers.values():
            server.stop()
        for script in scripts:
            script.unlink(missing_ok=True)
        plan_file.unlink(missing_ok=True)

    if not args.no_grep:
        print("grep floor …", file=sys.stderr, flush=True)
        result["markdown"] = write_markdown(args.markdown_dir)
        result["markdown"]["dir"] = str(args.markdown_dir)
        result["grep"] = {}
        for name in ("q", "q-broad"):
            if name not in names:
                continue
            text = requests[name][2]["q"]
            grep = grep_floor(text.split(), args.markdown_dir, args.grep_runs)
            grep["ratio_grep_median_to_q_p99"] = (
                grep["median_ms"] / result["requests"][name]["seams"]["p99_ms"]
            )
            result["grep"][name] = grep
    result["aims_met"] = aims_met(result)
    result["machine_after"] = machine()
    for entry in result["requests"].values():
        for label in ("seams", "floor"):
            if label in entry:
                entry[label].pop("wrk_text", None)
    path = save_result(f"api-latency-{result['database']}", result)
    print_table(result)
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


def aims_met(result: dict) -> dict:
    r = result["requests"]
    out = {}
    if "list" in r:
        out["list p99 ≤ 15 ms"] = r["list"]["seams"]["p99_ms"] <= AIMS["list_p99_ms"]
        out["list p99 ≤ 2× floor"] = (
            r["list"]["p99_ratio_seams_to_floor"] <= AIMS["list_floor_ratio"]
        )
    for name in ("q", "q-broad"):
        if name in r:
            out[f"{name} p99 ≤ 50 ms"] = r[name]["seams"]["p99_ms"] <= AIMS["q_p99_ms"]
            if name in result.get("grep", {}):
                out[f"{name} ≥ 20× faster than grep"] = (
                    result["grep"][name]["ratio_grep_median_to_q_p99"] >= AIMS["q_vs_grep"]
                )
    for name in ("similar-question", "similar-review"):
        if name in r:
            out[f"{name} p99 ≤ 150 ms"] = r[name]["seams"]["p99_ms"] <= AIMS["similar_p99_ms"]
    for name, entry in r.items():  # a run with timeouts or errors proves nothing
        for label in ("seams", "floor"):
            if label in entry and not entry[label]["valid"]:
                out = {
                    aim: False if aim.startswith(name + " ") else met for aim, met in out.items()
                }
    return out


def print_table(result: dict) -> None:
    print(
        f"\nAPI at {result['stored_incidents']:,} incidents; `{result['wrk']}`; gunicorn -w 2 "
        f"for each; pattern={result['pattern']['slug']}; q={result['q']['text']!r} "
        f"({result['q']['matches']:,} matches); q-broad={result['q_broad']['text']!r} "
        f"({result['q_broad']['matches']:,} matches)\n"
    )
    print(
        "| request | queries | Seams p50 ms | Seams p99 ms | Seams req/s | floor p50 ms "
        "| floor p99 ms | floor req/s | p99 Seams/floor | same JSON |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, e in result["requests"].items():
        if "seams" not in e:
            continue
        same = e.get("floor_json_identical")
        s, f = e["seams"], e["floor"]
        print(
            f"| {name} | {e['queries_per_request']} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
            f"{s['rps']:.1f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['rps']:.1f} | "
            f"{e['p99_ratio_seams_to_floor']:.2f}× | {'identical' if same else 'NO'} |"
        )
    for name, g in result.get("grep", {}).items():
        print(
            f"\ngrep floor for {name}: `{g['command']}` → {g['files_matched']:,} files; median "
            f"{g['median_ms']:.0f} ms (min {g['min_ms']:.0f}, {len(g['runs_ms'])} runs); "
            f"grep median / {name} p99 = {g['ratio_grep_median_to_q_p99']:.1f}×"
        )
    print("\naims:")
    for aim, met in result["aims_met"].items():
        print(f"- {aim}: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
