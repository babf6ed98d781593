#!/usr/bin/env bash
# The API contract check: schemathesis generates requests from /api/schema/ and sends them,
# with a write token, to a real server on a throwaway SQLite database with the demo data.
# Fails on any server error and on any response that does not match the schema.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
work=$(mktemp -d)
port=${CONTRACT_PORT:-18765}
# Production settings (DEBUG off): error pages are the JSON ones bots really get.
# A random key: with DEBUG off the settings refuse a short or published one.
export DEBUG=0 SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=127.0.0.1 SECURE_COOKIES=0 \
  DATABASE_URL="sqlite:///$work/contract.sqlite3" SEAMS_API_RATE=100000/min
unset REDIS_URL
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

$BIN/python manage.py migrate --noinput -v0
$BIN/python manage.py load_demo --no-login >/dev/null
$BIN/python manage.py shell -v0 -c "
from django.contrib.auth import get_user_model
u, _ = get_user_model().objects.get_or_create(username='contract', defaults={'is_superuser': True})
"
key=$($BIN/python manage.py create_api_token contract --scope write --user contract 2>/dev/null)
# As a deployment does (the Dockerfile, `make serve`): with DEBUG off, the HTML pages,
# error pages included, read the static files' manifest.
$BIN/python manage.py collectstatic --noinput -v0
# The server's log is kept: schemathesis also sends requests it does not check (probes of
# what the server accepts), and a server error on any of them fails this run too.
$BIN/gunicorn config.wsgi --config config/gunicorn.conf.py --bind "127.0.0.1:$port" --workers 2 \
  --log-level warning >"$work/server.log" 2>&1 &
echo $! >"$work/pid"
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

$BIN/schemathesis run "http://127.0.0.1:$port/api/schema/" \
  --header "Authorization: Token $key" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${CONTRACT_EXAMPLES:-25}" \
  --seed 1 \
  --max-time "${CONTRACT_MAX_TIME:-300}" \
  --request-timeout 10 \
  ${CONTRACT_EXTRA:-} || status=$?

if grep -q "Internal Server Error" "$work/server.log"; then
  echo "Server errors in the server's log:"
  grep -A 30 "Internal Server Error" "$work/server.log" | head -120
  status=${status:-1}
fi
exit "${status:-0}"
