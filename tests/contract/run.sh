#!/usr/bin/env bash
# The API contract check: schemathesis generates requests from /api/schema/ and sends them,
# with a write token, to two real servers on a throwaway SQLite database with the demo data:
# gunicorn with DEBUG off (as deployed) and the development server with DEBUG on (as
# `make run` serves it). Every check (`--checks all`) in every phase, on both; fails on any
# failure and on any server error in either server's log.
#
# CONTRACT_PORT picks the first port (the second is the next one); CONTRACT_EXAMPLES and
# CONTRACT_MAX_TIME (seconds per server) bound the run; CONTRACT_SERVERS="gunicorn" or
# "runserver" runs one only.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
work=$(mktemp -d)
free_port() {
  $BIN/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=${CONTRACT_PORT:-$(free_port)}
dev_port=$( [ -n "${CONTRACT_PORT:-}" ] && echo $((CONTRACT_PORT + 1)) || free_port )
SECRET_KEY=$($BIN/python -c 'import secrets; print(secrets.token_urlsafe(50))')
export SECRET_KEY ALLOWED_HOSTS=127.0.0.1 SECURE_COOKIES=0 \
  DATABASE_URL="sqlite:///$work/contract.sqlite3" SEAMS_API_RATE=100000/min
unset REDIS_URL
# `|| true`: a server check() already stopped is gone, and under `set -e` a failed kill here
# would turn a passing run's exit status into 1.
trap 'for p in "$work"/*.pid; do [ -f "$p" ] && { kill "$(cat "$p")" 2>/dev/null || true; }; done; rm -rf "$work"' EXIT

DEBUG=0 $BIN/python manage.py migrate --noinput -v0
DEBUG=0 $BIN/python manage.py load_demo --no-login >/dev/null
DEBUG=0 $BIN/python manage.py shell -v0 -c "
from django.contrib.auth import get_user_model
u, _ = get_user_model().objects.get_or_create(username='contract', defaults={'is_superuser': True})
"
key=$(DEBUG=0 $BIN/python manage.py create_api_token contract --scope write --user contract 2>/dev/null)
# As a deployment does (the Dockerfile, `make serve`): with DEBUG off, the HTML pages,
# error pages included, read the static files' manifest.
DEBUG=0 $BIN/python manage.py collectstatic --noinput -v0

status=0

check() {  # check NAME PORT: run schemathesis against the server listening on PORT
  local name=$1 server_port=$2 log="$work/$1.log"
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$server_port/healthz" >/dev/null && break; sleep 0.2; done
  echo "== $name on :$server_port"
  # schemathesis.toml: the few per-operation exceptions, each with the rule and why the
  # schema cannot state it.
  $BIN/schemathesis --config-file tests/contract/schemathesis.toml \
    run "http://127.0.0.1:$server_port/api/schema/" \
    --header "Authorization: Token $key" \
    --checks all \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${CONTRACT_EXAMPLES:-20}" \
    --seed 1 \
    --max-time "${CONTRACT_MAX_TIME:-200}" \
    --request-timeout 60 \
    ${CONTRACT_EXTRA:-} || status=1
  # The server's log is kept: schemathesis also sends requests it does not check (probes of
  # what the server accepts), and a server error on any of them fails this run too.
  if grep -q "Internal Server Error" "$log"; then
    echo "Server errors in the $name log:"
    grep -A 30 "Internal Server Error" "$log" | head -120
    status=1
  fi
  kill "$(cat "$work/$name.pid")" 2>/dev/null || true
}

servers=${CONTRACT_SERVERS:-gunicorn runserver}
if [[ " $servers " == *" gunicorn "* ]]; then
  # Production settings (DEBUG off): error pages are the JSON ones bots really get.
  DEBUG=0 $BIN/gunicorn config.wsgi --config config/gunicorn.conf.py --bind "127.0.0.1:$port" \
    --workers 2 --log-level warning >"$work/gunicorn.log" 2>&1 &
  echo $! >"$work/gunicorn.pid"
  check gunicorn "$port"
fi
if [[ " $servers " == *" runserver "* ]]; then
  # The embedded mode's server, as `make run` starts it (DEBUG on, Django's WSGI server,
  # which checks header types strictly).
  DEBUG=1 $BIN/python manage.py runserver --noreload "127.0.0.1:$dev_port" \
    >"$work/runserver.log" 2>&1 &
  echo $! >"$work/runserver.pid"
  check runserver "$dev_port"
fi
exit "$status"
