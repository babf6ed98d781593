#!/usr/bin/env bash
# Reproduce every number in docs/benchmarks.md. On the 2-core machine described there this
# takes well over an hour, most of it the full recompute and the similar-incident lookups.
#
#   bench/run_all.sh                  # generate both databases, then measure
#   SKIP_GENERATE=1 bench/run_all.sh  # measure the databases generated before
#
# Needs PostgreSQL (PG below, trust auth) and the project's virtualenv (make install).
# Results are printed and written to bench/results/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
SMALL=$PG/seams_bench_1k
LARGE=$PG/seams_bench_100k
MARKDOWN_DIR=${MARKDOWN_DIR:-/var/tmp/seams-bench/markdown-100k}

echo "machine: $(nproc) cores; $(psql "$PG/postgres" -Atc 'SHOW server_version' 2>/dev/null || echo 'psql not found')"

if [[ -z "${SKIP_GENERATE:-}" ]]; then
    rm -rf "$MARKDOWN_DIR"
    DATABASE_URL=$SMALL "$PY" bench/generate.py --incidents 1000 --reset
    DATABASE_URL=$LARGE "$PY" bench/generate.py --incidents 100000 --reset \
        --markdown-dir "$MARKDOWN_DIR"
fi

# Per-incident analysis cost at 1k and 100k (alternating, 3 rounds of 50) and the ratio.
"$PY" bench/analysis_cost.py --small "$SMALL" --large "$LARGE"

# The nightly full recompute at 100k in a fresh process: time and peak RSS.
"$PY" bench/analysis_cost.py --recompute --database-url "$LARGE"

# Similar-incident lookup at 100k: in-process, then over HTTP (gunicorn -w 2) against Seams
# and the bare-WSGI floor.
"$PY" bench/similar_latency.py --database-url "$LARGE" ${SIMILAR_ARGS:-}
